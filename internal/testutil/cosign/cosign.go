// Package cosign gives tests the real cosign, built once at the release
// internal/tools/cosign pins into a cache outside the repository
// (scripts/cosign-tools.sh), so that what kiln signs is checked by the
// verifier people use rather than by kiln's own reading of the formats.
package cosign

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	once sync.Once
	path string
	err  error
)

// Path returns the path of cosign, building it on first use (minutes)
// unless KILN_COSIGN names the directory holding it.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		dir := os.Getenv("KILN_COSIGN")
		if dir == "" {
			_, file, _, _ := runtime.Caller(0)
			script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "cosign-tools.sh")
			cmd := exec.Command("sh", script)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, e := cmd.Output()
			if e != nil {
				err = fmt.Errorf("building cosign (%s): %v\n%s", script, e, stderr.String())
				return
			}
			dir = strings.TrimSpace(string(out))
		}
		path = filepath.Join(dir, "cosign")
		if _, e := os.Stat(path); e != nil {
			err = fmt.Errorf("cosign: %v (KILN_COSIGN names the directory holding it; scripts/cosign-tools.sh builds it)", e)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Run runs cosign with args, offline from Sigstore's public services:
// its own HOME (no TUF root or config of this machine is read or
// written) and no tlog. It returns the combined output and whether cosign
// exited 0.
func Run(t testing.TB, env []string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(Path(t), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"), "COSIGN_EXPERIMENTAL=0")
	cmd.Env = append(cmd.Env, env...)
	out, e := cmd.CombinedOutput()
	if e != nil {
		if _, ok := e.(*exec.ExitError); !ok {
			t.Fatalf("cosign %s: %v", strings.Join(args, " "), e)
		}
		return string(out), false
	}
	return string(out), true
}
