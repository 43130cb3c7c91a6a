package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	initOnce sync.Once
	initPath string
	initDir  string // made by BuildInit, for RemoveInit
	initErr  error
)

// BuildInit builds kiln-init, the small init of kiln's sandboxes, once per
// test process into a temporary directory anyone can read (rootless
// scripts run kiln as another user), and sets KILN_INIT to it for this
// process and the kiln processes it starts, so that tests run steps the
// way an installed kiln does. It returns the program's path; a KILN_INIT
// already set is kept (the tests of the fallback set it to a missing
// file). The go command builds it with this process's GOFLAGS, so with
// the seccomp tag when the tests have it.
func BuildInit() (string, error) {
	initOnce.Do(func() {
		if p, ok := os.LookupEnv("KILN_INIT"); ok {
			initPath = p
			return
		}
		dir, err := os.MkdirTemp("", "kiln-init-")
		if err != nil {
			initErr = err
			return
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			initErr = err
			return
		}
		initDir = dir
		bin := filepath.Join(dir, "kiln-init")
		if err := GoBuild("./cmd/kiln-init", bin); err != nil {
			initErr = err
			return
		}
		initPath = bin
		initErr = os.Setenv("KILN_INIT", bin)
	})
	return initPath, initErr
}

// RemoveInit removes what BuildInit built, if it built anything; for
// TestMain after the tests.
func RemoveInit() {
	if initDir != "" {
		os.RemoveAll(initDir)
	}
}

// GoBuild builds the main package pkg of kiln's module ("./cmd/NAME") to
// bin with the go command and this process's GOFLAGS (so with the seccomp
// tag when the tests have it).
func GoBuild(pkg, bin string) error {
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, out)
	}
	return nil
}
