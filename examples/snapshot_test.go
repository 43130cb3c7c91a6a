package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/realize/snapshot"
)

// TestGoldenCopySnapshotter checks the examples on the busybox root alone
// against build.golden.hcl (recorded on overlayfs) with the copy
// snapshotter forced, as root and as the unprivileged test user: copying
// the layers instead of mounting them gives the same digests.
func TestGoldenCopySnapshotter(t *testing.T) {
	if *update {
		t.Skip("-update")
	}
	if os.Geteuid() != 0 {
		t.Skip("building the examples needs root (sandboxes)")
	}
	t.Setenv(snapshot.EnvVar, "copy")
	small := []string{"service", "shell-tool", "static-site"}
	check := func(t *testing.T, out string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("kiln golden check with %s=copy: %v\n%s", snapshot.EnvVar, err, out)
		}
		if !strings.Contains(out, snapshot.EnvVar+"=copy: ") {
			t.Fatalf("the build did not say it copies layers:\n%s", out)
		}
	}
	t.Run("root", func(t *testing.T) {
		storeDir := t.TempDir()
		for _, name := range small {
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				copyExample(t, name, dir)
				out, err := kiln(t, dir, storeDir, "golden", "check")
				check(t, out, err)
			})
		}
	})
	t.Run("rootless", func(t *testing.T) {
		u, bin, top := rootlessSetup(t, "kiln-copy-examples-")
		for _, name := range small {
			t.Run(name, func(t *testing.T) {
				dir := filepath.Join(top, name)
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				copyExample(t, name, dir)
				if err := testutil.ChownTree(top, u); err != nil {
					t.Fatal(err)
				}
				out, err := asUser(u, bin, dir, filepath.Join(top, "store"), "golden", "check")
				check(t, out, err)
			})
		}
	})
}
