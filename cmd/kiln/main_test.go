package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/binfmt"
	"github.com/kiln-build/kiln/internal/platform"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/realize/snapshot"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kiln": func() { os.Exit(testKiln(os.Args[1:])) },
	})
}

// scriptSetup gives each script its own store and a busybox root
// filesystem at $WORK/base/rootfs, the layout the examples expect.
func scriptSetup(env *testscript.Env) error {
	env.Setenv("KILN_STORE", filepath.Join(env.WorkDir, ".store"))
	env.Setenv("CI", "")
	env.Setenv("NO_COLOR", "1")
	env.Setenv("SOURCE_DATE_EPOCH", "")
	// Steps start kiln-init, as with an installed kiln (built once per
	// test process; sandbox_init.txtar covers its absence).
	p, err := testutil.BuildInit()
	if err != nil {
		return err
	}
	env.Setenv("KILN_INIT", p)
	if forcedSnapshotter != "" {
		env.Setenv(snapshot.EnvVar, forcedSnapshotter)
	}
	return testutil.WriteBusyboxRootfs(filepath.Join(env.WorkDir, "base", "rootfs"), testutil.BusyboxPath)
}

// TestScripts runs the CLI behaviour scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script", Setup: scriptSetup, Condition: condition, Cmds: scriptCmds})
}

// TestBadInput runs the corpus of broken build files: each must fail with
// exit 1 or 2 and a diagnostic naming file, line and column, never a panic.
func TestBadInput(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script/bad", Setup: scriptSetup, Condition: condition})
}

// condition adds [root]: sandboxes need it, and CI runs as root;
// [rootless]: kiln runs as a normal user (TestScriptsRootless); and
// [emulates:ARCH]: this machine runs linux/ARCH steps.
func condition(cond string) (bool, error) {
	switch cond {
	case "root":
		return os.Geteuid() == 0, nil
	case "rootless":
		// The script's kiln runs as a normal user (TestScriptsRootless).
		return rootlessRun, nil
	}
	if arch, ok := strings.CutPrefix(cond, "emulates:"); ok {
		// [emulates:ARCH]: steps for linux/ARCH run here, natively or
		// under a registered emulator (bash scripts/deps.sh registers
		// Debian's qemu-user-static).
		host, err := platform.Parse(compiler.DefaultPlatform())
		if err != nil {
			return false, err
		}
		m, err := binfmt.Detect(host, binfmt.DefaultDir)
		if err != nil {
			return false, err
		}
		return m.Check(platform.Platform{OS: "linux", Architecture: arch}) == nil, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
