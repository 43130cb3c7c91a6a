package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/rootless"
	"github.com/kiln-build/kiln/internal/testutil"
)

// rootlessScripts run again with kiln run by an unprivileged user
// (TestScriptsRootless): builds, mounts, isolation, secrets, failures and
// goldens must behave as they do for root. Left out: export_local_owner
// (files come back owned by the user, not root, as it says they should)
// and epoch_order (its git repository is made by root in the script, and
// git refuses a repository another user owns).
var rootlessScripts = []string{
	"build", "mounts", "sandbox", "security", "secret_redact", "golden_check",
	"user_nonroot", "rootless",
	"lock_fixed_once", "layers_repeated", "artifact_contents", "copy_through_symlink",
	"image_env", "image_path", "verify_example", "verify_machine", "deb", "impure_env", "output_targets",
}

// rootlessRun is set while TestScriptsRootless runs, for the [rootless]
// condition (testscript conditions see no script environment).
var rootlessRun bool

// Set in a script's environment by TestScriptsRootless: the kiln binary the
// user runs (a copy the user can reach) and the user's ids.
const (
	envAsBin = "KILN_TEST_AS_BIN"
	envAsUID = "KILN_TEST_AS_UID"
	envAsGID = "KILN_TEST_AS_GID"
)

// testKiln is the "kiln" of testscripts: as itself, or, in
// TestScriptsRootless, as the test user, by way of setpriv.
func testKiln(args []string) int {
	bin := os.Getenv(envAsBin)
	if bin == "" || os.Geteuid() != 0 || rootless.InUserNS() {
		return run(args)
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		os.Stderr.WriteString("kiln test: setpriv: " + err.Error() + "\n")
		return 1
	}
	uid, _ := strconv.Atoi(os.Getenv(envAsUID))
	gid, _ := strconv.Atoi(os.Getenv(envAsGID))
	argv := testutil.AsUserCommand(testutil.RootlessUser{UID: uid, GID: gid}, append([]string{bin}, args...)...)
	err = unix.Exec(setpriv, argv, os.Environ())
	os.Stderr.WriteString("kiln test: exec setpriv: " + err.Error() + "\n")
	return 1
}

// userBinary copies this test binary to a directory the user can reach
// (go test's own are root's, 0700), named kiln so that testscript runs it
// as that command.
func userBinary(t *testing.T) string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "kiln-rootless-bin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "kiln")
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestScriptsRootless runs rootlessScripts with every kiln command run by
// an unprivileged user with a subordinate id range, its store and HOME in
// the script's work directory, which the user owns.
func TestScriptsRootless(t *testing.T) {
	u := testutil.NeedRootlessUser(t)
	bin := userBinary(t)
	rootlessRun = true
	t.Cleanup(func() { rootlessRun = false })
	var files []string
	for _, s := range rootlessScripts {
		files = append(files, filepath.Join("testdata", "script", s+".txtar"))
	}
	testscript.Run(t, testscript.Params{
		Files:     files,
		Condition: condition,
		Setup: func(env *testscript.Env) error {
			if err := scriptSetup(env); err != nil {
				return err
			}
			env.Setenv(envAsBin, bin)
			env.Setenv(envAsUID, strconv.Itoa(u.UID))
			env.Setenv(envAsGID, strconv.Itoa(u.GID))
			env.Setenv("ROOTLESS_USER", u.Name)
			home := filepath.Join(env.WorkDir, ".home")
			if err := os.Mkdir(home, 0o700); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			// testscript's directory above the work directories is 0700.
			if err := os.Chmod(filepath.Dir(env.WorkDir), 0o711); err != nil {
				return err
			}
			return testutil.ChownTree(env.WorkDir, u)
		},
	})
}

// TestCacheAcrossRootAndUser shares outputs through a local cache between
// root and an unprivileged user, both ways: what one builds, the other
// imports without running a step, because a rootless build's outputs are
// the bytes of a root build (the cache verifies every blob it imports).
func TestCacheAcrossRootAndUser(t *testing.T) {
	needTools(t)
	u := testutil.NeedRootlessUser(t)
	bin := userBinary(t)
	top, err := os.MkdirTemp("", "kiln-rootless-cache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	mine := filepath.Join(top, "user") // the user's stores and cache
	for _, d := range []string{top, mine} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keys := filepath.Join(top, "keys")
	if err := os.Mkdir(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	kilnOK(t, keys, nil, "cache", "keygen", "ci")
	dir := copyExample(t, "service", filepath.Join(top, "service"))
	rootCache, userCache := filepath.Join(top, "cache"), filepath.Join(mine, "cache")
	asUser := func(env ...string) []string {
		return append([]string{envAsBin + "=" + bin, envAsUID + "=" + strconv.Itoa(u.UID), envAsGID + "=" + strconv.Itoa(u.GID), "HOME=" + mine}, env...)
	}
	key, pub := "key="+filepath.Join(keys, "ci.key"), "trusted="+filepath.Join(keys, "ci.pub")

	kilnOK(t, dir, []string{"KILN_STORE=" + filepath.Join(top, "root-a"), "KILN_CACHE_TO=type=local,dest=" + rootCache + "," + key}, "build")
	for _, d := range []string{dir, keys, rootCache, mine} {
		if err := testutil.ChownTree(d, u); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr, code := kilnRun(t, dir, asUser("KILN_STORE="+filepath.Join(mine, "a"), "KILN_CACHE_FROM=type=local,src="+rootCache+","+pub), "build", "--progress", "plain")
	if code != 0 || stepsRun(stderr) != 0 {
		t.Fatalf("the user importing root's cache: exit %d, %d steps run\n%s", code, stepsRun(stderr), stderr)
	}
	if fi, err := os.Stat(filepath.Join(mine, "a", "index")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(u.UID) {
		t.Fatalf("the import did not run as %s (its store's index: %v, %v)", u.Name, fi, err)
	}

	kilnOK(t, dir, asUser("KILN_STORE="+filepath.Join(mine, "b"), "KILN_CACHE_TO=type=local,dest="+userCache+","+key), "build")
	_, stderr, code = kilnRun(t, dir, []string{"KILN_STORE=" + filepath.Join(top, "root-b"), "KILN_CACHE_FROM=type=local,src=" + userCache + "," + pub}, "build", "--progress", "plain")
	if code != 0 || stepsRun(stderr) != 0 {
		t.Fatalf("root importing the user's cache: exit %d, %d steps run\n%s", code, stepsRun(stderr), stderr)
	}
}
