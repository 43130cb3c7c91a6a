package testutil

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// RootlessUserName is the unprivileged user that rootless tests run kiln
// as. It is created on first use and kept: test binaries running at the
// same time share it, and removing it under one of them would break it.
const RootlessUserName = "kilntest"

// RootlessUser is the test user, with a subordinate id range.
type RootlessUser struct {
	Name     string
	UID, GID int
}

// NeedRootlessUser returns the test user, creating it (useradd) and giving
// it a subordinate uid and gid range of 65536 ids (usermod) when it has
// none. It is safe to call repeatedly and from concurrent test binaries
// (a lock file serialises the check-and-create). It skips the test unless
// it runs as root with newuidmap and user namespaces available.
func NeedRootlessUser(t testing.TB) RootlessUser {
	t.Helper()
	RequireRoot(t)
	for _, tool := range []string{"newuidmap", "newgidmap", "useradd", "usermod", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("rootless tests need %s (scripts/deps.sh installs uidmap and passwd)", tool)
		}
	}
	u, err := EnsureRootlessUser()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// EnsureRootlessUser is NeedRootlessUser without a test.
func EnsureRootlessUser() (RootlessUser, error) {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "kiln-testuser.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return RootlessUser{}, err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return RootlessUser{}, err
	}
	if _, err := user.Lookup(RootlessUserName); err != nil {
		out, err := exec.Command("useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", RootlessUserName).CombinedOutput()
		if err != nil {
			return RootlessUser{}, fmt.Errorf("creating the rootless test user: useradd: %v: %s", err, out)
		}
	}
	u, err := user.Lookup(RootlessUserName)
	if err != nil {
		return RootlessUser{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, f := range []struct{ file, flag string }{{"/etc/subuid", "--add-subuids"}, {"/etc/subgid", "--add-subgids"}} {
		has, next, err := subIDs(f.file, u.Username, u.Uid)
		if err != nil {
			return RootlessUser{}, err
		}
		if has {
			continue
		}
		r := fmt.Sprintf("%d-%d", next, next+65535)
		if out, err := exec.Command("usermod", f.flag, r, RootlessUserName).CombinedOutput(); err != nil {
			return RootlessUser{}, fmt.Errorf("giving the rootless test user subordinate ids: usermod %s %s: %v: %s", f.flag, r, err, out)
		}
	}
	return RootlessUser{Name: u.Username, UID: uid, GID: gid}, nil
}

// subIDs says whether name has a range of 65535 ids or more in file, and
// the first id after every range there (at least 100000), where a new
// range would overlap no one's.
func subIDs(file, name, uid string) (has bool, next int, err error) {
	next = 100000
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return false, next, nil
	}
	if err != nil {
		return false, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(p) != 3 {
			continue
		}
		start, err1 := strconv.Atoi(p[1])
		count, err2 := strconv.Atoi(p[2])
		if err1 != nil || err2 != nil {
			continue
		}
		if (p[0] == name || p[0] == uid) && count >= 65535 {
			has = true
		}
		next = max(next, start+count)
	}
	return has, next, sc.Err()
}

// AsUserCommand is the command line that runs argv as u: setpriv with u's
// ids and groups and no capabilities (util-linux, in every Debian).
func AsUserCommand(u RootlessUser, argv ...string) []string {
	return append([]string{"setpriv", "--reuid", strconv.Itoa(u.UID), "--regid", strconv.Itoa(u.GID), "--init-groups", "--"}, argv...)
}

// ChownTree gives dir and everything in it to u.
func ChownTree(dir string, u RootlessUser) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.UID, u.GID)
	})
}
