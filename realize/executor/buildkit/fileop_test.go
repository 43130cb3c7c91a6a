package buildkit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/internal/testutil/buildkitd"
	"github.com/kiln-build/kiln/realize/executor"
)

func fileSpec(t *testing.T, root string, actions ...executor.FileAction) executor.FileSpec {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"upper", "scratch"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return executor.FileSpec{ID: "test-" + filepath.Base(dir), Base: []executor.Layer{{Path: root}},
		Upper: filepath.Join(dir, "upper"), Scratch: filepath.Join(dir, "scratch"), Actions: actions}
}

// TestTranslateFileDeclines: a file step goes to the daemon only where
// BuildKit's file actions give kiln's result.
func TestTranslateFileDeclines(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the base is sent as an overlay view, which needs root")
	}
	root := testutil.BusyboxRootfs(t)
	for _, tc := range []struct {
		name     string
		actions  []executor.FileAction
		declined bool
	}{
		{"mkdir -p", []executor.FileAction{{Action: "mkdir", Path: "/a/b/c", Mode: 0o750, Parents: true}}, false},
		{"mkfile", []executor.FileAction{{Action: "mkfile", Path: "/etc/x", Mode: 0o600, Data: "x"}}, false},
		{"symlink over a file", []executor.FileAction{{Action: "symlink", Path: "/etc/passwd", Target: "group"}}, false},
		{"rm", []executor.FileAction{{Action: "rm", Path: "/etc/group"}}, false},
		{"mkfile over a file", []executor.FileAction{{Action: "mkfile", Path: "/etc/group", Mode: 0o644}}, false},
		{"mkfile over a directory", []executor.FileAction{{Action: "mkfile", Path: "/etc", Mode: 0o644}}, true},
		{"group-writable mkdir", []executor.FileAction{{Action: "mkdir", Path: "/g", Mode: 0o775}}, true},
		{"mkdir of an existing directory", []executor.FileAction{{Action: "mkdir", Path: "/etc", Mode: 0o700}}, true},
		{"setuid mode", []executor.FileAction{{Action: "mkfile", Path: "/x", Mode: 0o4755}}, true},
		{"through a symlink", []executor.FileAction{{Action: "mkfile", Path: "/bin/sh/x", Mode: 0o644}}, true},
		{"missing parent", []executor.FileAction{{Action: "mkfile", Path: "/no/x", Mode: 0o644}}, true},
		{"rm of nothing", []executor.FileAction{{Action: "rm", Path: "/no"}}, true},
		{"a path an earlier action wrote", []executor.FileAction{{Action: "mkdir", Path: "/n", Mode: 0o755}, {Action: "mkfile", Path: "/n/f", Mode: 0o644}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := TranslateFile(fileSpec(t, root, tc.actions...))
			if d != nil {
				d.Close()
			}
			if got := errors.Is(err, executor.ErrRunLocally); got != tc.declined || (err != nil && !got) {
				t.Errorf("err = %v, want declined %v", err, tc.declined)
			}
		})
	}
}

// TestFileRunsOnBuildKit: the actions' changes come back in overlay form:
// parents root's and 0755, modes and owners as asked, a deletion as a
// whiteout, a symlink in place of a file.
func TestFileRunsOnBuildKit(t *testing.T) {
	d := buildkitd.Start(t)
	root := testutil.BusyboxRootfs(t)
	s := fileSpec(t, root,
		executor.FileAction{Action: "mkdir", Path: "/a/b/c", Mode: 0o750, UID: 1000, GID: 1000, Parents: true},
		executor.FileAction{Action: "mkfile", Path: "/etc/x", Mode: 0o600, Data: "data", UID: 7, GID: 8},
		executor.FileAction{Action: "symlink", Path: "/etc/passwd", Target: "group"},
		executor.FileAction{Action: "rm", Path: "/bin/vi"},
	)
	e := &Executor{Addr: d.Addr}
	if err := e.File(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	check := func(p string, mode os.FileMode, uid, gid uint32) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(s.Upper, p), &st); err != nil {
			t.Errorf("%s: %v", p, err)
			return
		}
		if got := os.FileMode(st.Mode & 0o7777); got != mode&0o7777 || st.Uid != uid || st.Gid != gid {
			t.Errorf("%s: mode %o owner %d:%d, want %o %d:%d", p, got, st.Uid, st.Gid, mode&0o7777, uid, gid)
		}
	}
	check("a", 0o755, 0, 0)
	check("a/b", 0o755, 0, 0)
	check("a/b/c", 0o750, 1000, 1000)
	check("etc/x", 0o600, 7, 8)
	if b, _ := os.ReadFile(filepath.Join(s.Upper, "etc/x")); string(b) != "data" {
		t.Errorf("etc/x = %q", b)
	}
	if l, err := os.Readlink(filepath.Join(s.Upper, "etc/passwd")); err != nil || l != "group" {
		t.Errorf("etc/passwd: %q %v, want a link to group", l, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(s.Upper, "bin/vi"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("bin/vi: %v, want a whiteout", err)
	}
}
