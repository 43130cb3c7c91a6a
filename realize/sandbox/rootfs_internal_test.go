package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzResolveUser feeds build-controlled account files and user specs to
// resolveUser: it must not panic, and whatever it resolves has the
// primary gid among the supplementary groups.
func FuzzResolveUser(f *testing.F) {
	f.Add("app", "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n", "root:x:0:\nstaff:x:50:app\n")
	f.Add("", "root:x:0:0::/:/bin/sh\n", "wheel:x:10:root\n")
	f.Add("1000:root", "", "")
	f.Add("app:staff", "app:x:1:2\n", "staff:x:3:\n")
	f.Fuzz(func(t *testing.T, spec, passwd, group string) {
		root := t.TempDir()
		if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"passwd": passwd, "group": group} {
			if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		uid, gid, groups, err := resolveUser(root, spec)
		if err != nil {
			if !strings.Contains(err.Error(), "user") {
				t.Errorf("spec %q: error %v names no user", spec, err)
			}
			return
		}
		if uid < 0 || gid < 0 || !slices.Contains(groups, gid) {
			t.Errorf("spec %q: uid %d gid %d groups %v; want the gid among the groups", spec, uid, gid, groups)
		}
	})
}

// TestAccountFileNotRegular: a FIFO or directory at /etc/group is no
// group file (and opening it must not block), as for BuildKit.
func TestAccountFileNotRegular(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("app:x:1000:1000::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "etc", "group"), 0o644); err != nil {
		t.Fatal(err)
	}
	uid, gid, groups, err := resolveUser(root, "app")
	if err != nil || uid != 1000 || gid != 1000 || !slices.Equal(groups, []int{1000}) {
		t.Errorf("with a FIFO /etc/group: %d %d %v %v; want 1000 1000 [1000]", uid, gid, groups, err)
	}
}
