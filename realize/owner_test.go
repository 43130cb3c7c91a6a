package realize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLookupOwner resolves chown names in a state's own /etc/passwd and
// /etc/group, following a symlink inside the state and never the host's.
func TestLookupOwner(t *testing.T) {
	base, upper := t.TempDir(), t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(base, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/share/accounts/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\napp:x:7:7::/:/bin/sh\nbad:x:nope:1::/:/bin/sh\n")
	write("etc/group", "root:x:0:\nstaff:x:50:app\n")
	// /etc/passwd is an absolute link: it must resolve inside the state.
	if err := os.Symlink("/usr/share/accounts/passwd", filepath.Join(base, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	f := &fileApplier{upper: upper, base: base}
	for _, c := range []struct {
		owner    string
		uid, gid int
		err      string
	}{
		{owner: "app", uid: 1001, gid: 1002},
		{owner: "app:staff", uid: 1001, gid: 50},
		{owner: "app:9", uid: 1001, gid: 9},
		{owner: "5:staff", uid: 5, gid: 50},
		{owner: "5", uid: 5, gid: 5},
		{owner: "ghost", err: `no user "ghost" in the state's /etc/passwd`},
		{owner: "bad", err: `no user "bad"`},
		{owner: "app:ghosts", err: `no group "ghosts" in the state's /etc/group`},
	} {
		uid, gid, err := f.lookupOwner(c.owner)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one with %q", c.owner, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.owner, err)
		case c.err == "" && (uid != c.uid || gid != c.gid):
			t.Errorf("%s: %d:%d, want %d:%d", c.owner, uid, gid, c.uid, c.gid)
		}
	}

	// A link that climbs out of the state stays inside it: here it comes
	// back to itself, and the host's /etc/passwd is never read.
	empty := &fileApplier{upper: t.TempDir(), base: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(empty.base, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../etc/passwd", filepath.Join(empty.base, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if uid, gid, err := empty.lookupOwner("root"); err == nil {
		t.Errorf("a link to the host's /etc/passwd resolved root to %d:%d", uid, gid)
	}
}
