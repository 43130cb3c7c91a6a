package examples

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/golden"
	"github.com/kiln-build/kiln/internal/testutil"
)

// TestGoldenOutputsRootless builds every example as an unprivileged user
// (a user namespace mapped with its subordinate ids) and checks the
// outputs against build.golden.hcl, which root builds wrote: the digests
// must be the same. Then the user records the goldens itself, which must
// come out byte for byte as root's, so root checks a user's goldens too.
func TestGoldenOutputsRootless(t *testing.T) {
	if *update {
		t.Skip("-update")
	}
	u, bin, top := rootlessSetup(t, "kiln-rootless-examples-")
	storeDir := filepath.Join(top, "store")
	for _, name := range names(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(top, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			copyExample(t, name, dir)
			if err := testutil.ChownTree(top, u); err != nil {
				t.Fatal(err)
			}
			if out, err := asUser(u, bin, dir, storeDir, "golden", "check"); err != nil {
				t.Fatalf("kiln golden check of %s as user %s (against the goldens root recorded): %v\n%s", name, u.Name, err, out)
			}
			if out, err := asUser(u, bin, dir, storeDir, "golden", "update"); err != nil {
				t.Fatalf("kiln golden update as user %s: %v\n%s", u.Name, err, out)
			}
			mine, err := os.ReadFile(filepath.Join(dir, golden.FileName))
			if err != nil {
				t.Fatal(err)
			}
			roots, err := os.ReadFile(filepath.Join(name, golden.FileName))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mine, roots) {
				t.Fatalf("the golden file user %s records for %s differs from root's:\n%s\nroot's:\n%s", u.Name, name, mine, roots)
			}
		})
	}
}

// rootlessSetup skips t without the unprivileged test user and returns
// it, the kiln binary and a fresh folder under prefix, both reachable by
// the user (go test's temp directories are 0700).
func rootlessSetup(t *testing.T, prefix string) (testutil.RootlessUser, string, string) {
	t.Helper()
	u := testutil.NeedRootlessUser(t)
	bin, err := kilnBin()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	top, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	return u, bin, top
}

// asUser runs kiln as u in dir with its store at storeDir.
func asUser(u testutil.RootlessUser, bin, dir, storeDir string, args ...string) (string, error) {
	argv := testutil.AsUserCommand(u, append([]string{bin, "--progress", "quiet"}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KILN_STORE="+storeDir, "HOME="+filepath.Dir(storeDir), "SOURCE_DATE_EPOCH=", "CI=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSameAsLocalRootless builds TestSameAsLocal's build as an
// unprivileged user and as root: a step's user and supplementary groups
// (setgroups in kiln's user namespace), owners and modes come out the
// same, so the output does too.
func TestSameAsLocalRootless(t *testing.T) {
	if *update {
		t.Skip("-update")
	}
	u, bin, top := rootlessSetup(t, "kiln-rootless-same-")
	dir := filepath.Join(top, "build")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "build.hcl"), []byte(sameBuild), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testutil.WriteBusyboxRootfs(filepath.Join(dir, "rootfs"), testutil.Busybox(t)); err != nil {
		t.Fatal(err)
	}
	root, err := kiln(t, dir, t.TempDir(), "build")
	if err != nil {
		t.Fatalf("build as root: %v\n%s", err, root)
	}
	if err := testutil.ChownTree(top, u); err != nil {
		t.Fatal(err)
	}
	user, err := asUser(u, bin, dir, filepath.Join(top, "store"), "build")
	if err != nil {
		t.Fatalf("build as user %s: %v\n%s", u.Name, err, user)
	}
	if got, want := outputLine(t, user), outputLine(t, root); got != want {
		t.Errorf("output %s as user %s, %s as root", got, u.Name, want)
	}
}
