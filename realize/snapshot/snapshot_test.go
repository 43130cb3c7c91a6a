package snapshot

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/realize/overlay"
	"github.com/kiln-build/kiln/store/layer"
)

// lowerLayers writes two layers in store form: the second deletes a file
// and a directory of the first (whiteouts), replaces a directory with an
// opaque one, and holds a hard-linked pair.
func lowerLayers(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	l1, l2 := filepath.Join(dir, "l1"), filepath.Join(dir, "l2")
	old := time.Unix(1_000_000_000, 0)
	files := map[string]string{
		"l1/etc/conf":      "conf",
		"l1/etc/keep":      "keep",
		"l1/gone/file":     "gone",
		"l1/opq/old":       "old",
		"l1/data/a":        "a",
		"l1/data/b":        "b",
		"l1/data/sub/deep": "deep",
		"l1/bin/tool":      "tool",
		"l1/x":             "x",
		"l2/opq/new":       "new",
		"l2/pair/one":      "pair",
		"l2/etc/extra":     "extra",
	}
	for p, c := range files {
		mustWrite(t, filepath.Join(dir, p), c)
	}
	must(t, os.Link(filepath.Join(l2, "pair/one"), filepath.Join(l2, "pair/two")))
	must(t, os.Symlink("tool", filepath.Join(l1, "bin/link")))
	must(t, unix.Lsetxattr(filepath.Join(l1, "data/a"), "user.note", []byte("v1"), 0))
	must(t, unix.Mknod(filepath.Join(l2, "x"), unix.S_IFCHR, 0))
	must(t, os.MkdirAll(filepath.Join(l2, "gone"), 0o755))
	must(t, os.RemoveAll(filepath.Join(l2, "gone")))
	must(t, unix.Mknod(filepath.Join(l2, "gone"), unix.S_IFCHR, 0))
	must(t, unix.Lsetxattr(filepath.Join(l2, "opq"), layer.OpaqueXattr(), []byte("y"), 0))
	for _, l := range []string{l1, l2} {
		must(t, filepath.Walk(l, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}, unix.AT_SYMLINK_NOFOLLOW)
		}))
	}
	return []string{l1, l2}
}

// changes are what steps do to a root, each compared between overlayfs
// and the copy snapshotter.
var changes = []struct {
	name string
	do   func(root string) error
}{
	{"nothing", func(string) error { return nil }},
	{"new file in new dirs", func(r string) error {
		if err := os.MkdirAll(filepath.Join(r, "new/deep"), 0o750); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(r, "new/deep/f"), []byte("f"), 0o640)
	}},
	{"write a lower file", func(r string) error {
		return os.WriteFile(filepath.Join(r, "etc/conf"), []byte("changed"), 0o644)
	}},
	{"delete a file (whiteout)", func(r string) error { return os.Remove(filepath.Join(r, "data/b")) }},
	{"delete a tree (one whiteout)", func(r string) error { return os.RemoveAll(filepath.Join(r, "data")) }},
	{"delete a tree, add a sibling", func(r string) error {
		if err := os.RemoveAll(filepath.Join(r, "data")); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(r, "data2"), nil, 0o644)
	}},
	{"re-create a dir (opaque)", func(r string) error {
		if err := os.RemoveAll(filepath.Join(r, "data")); err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Join(r, "data"), 0o700); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(r, "data/a"), []byte("again"), 0o644)
	}},
	{"dir over a file (opaque)", func(r string) error {
		if err := os.Remove(filepath.Join(r, "etc/keep")); err != nil {
			return err
		}
		return os.Mkdir(filepath.Join(r, "etc/keep"), 0o755)
	}},
	{"dir where a lower layer has a whiteout (not opaque)", func(r string) error {
		return os.Mkdir(filepath.Join(r, "gone"), 0o755)
	}},
	{"file where a lower layer has a whiteout", func(r string) error {
		return os.WriteFile(filepath.Join(r, "x"), []byte("x2"), 0o600)
	}},
	{"file over a dir", func(r string) error {
		if err := os.RemoveAll(filepath.Join(r, "data/sub")); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(r, "data/sub"), []byte("now a file"), 0o644)
	}},
	{"chmod and chown", func(r string) error {
		if err := os.Chmod(filepath.Join(r, "etc/conf"), 0o4711); err != nil {
			return err
		}
		if err := os.Lchown(filepath.Join(r, "data/a"), 12, 34); err != nil {
			return err
		}
		return os.Chmod(filepath.Join(r, "etc"), 0o700)
	}},
	{"xattrs", func(r string) error {
		if err := unix.Lsetxattr(filepath.Join(r, "etc/keep"), "user.k", []byte("v"), 0); err != nil {
			return err
		}
		return unix.Lremovexattr(filepath.Join(r, "data/a"), "user.note")
	}},
	{"retarget a symlink", func(r string) error {
		if err := os.Remove(filepath.Join(r, "bin/link")); err != nil {
			return err
		}
		return os.Symlink("/elsewhere", filepath.Join(r, "bin/link"))
	}},
	{"hard links", func(r string) error {
		if err := os.Link(filepath.Join(r, "bin/tool"), filepath.Join(r, "bin/tool2")); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(r, "n1"), []byte("n"), 0o644); err != nil {
			return err
		}
		return os.Link(filepath.Join(r, "n1"), filepath.Join(r, "etc/n2"))
	}},
	{"rename a file", func(r string) error {
		return os.Rename(filepath.Join(r, "etc/conf"), filepath.Join(r, "etc/conf.old"))
	}},
	{"touch a lower file's times", func(r string) error {
		ts := []unix.Timespec{{Sec: 5}, {Sec: 5}}
		return unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(r, "data/sub/deep"), ts, 0)
	}},
	{"chmod the root", func(r string) error { return os.Chmod(r, 0o700) }},
	{"write in an opaque lower dir", func(r string) error {
		return os.WriteFile(filepath.Join(r, "opq/more"), []byte("m"), 0o644)
	}},
}

// TestDiffMatchesOverlay makes each change on an overlay mount of the
// same layers and on an assembled copy, and compares overlayfs's upper
// directory with Diff's, entry by entry: types, modes, owners, contents,
// link targets, hard links, xattrs, whiteouts and opaque directories.
func TestDiffMatchesOverlay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("overlay mounts need root")
	}
	lowers := lowerLayers(t)
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ovUpper, work, cpUpper := filepath.Join(dir, "ou"), filepath.Join(dir, "ow"), filepath.Join(dir, "cu")
			for _, d := range []string{ovUpper, work, cpUpper} {
				must(t, os.Mkdir(d, 0o755))
			}
			m, err := overlay.Detached(overlay.Config{Lowers: lowers, Upper: ovUpper, Work: work,
				Options: []string{"redirect_dir=off", "metacopy=off", "index=off"}})
			if errors.Is(err, overlay.ErrUnsupported) {
				t.Skip(err)
			}
			must(t, err)
			must(t, c.do(m.Path()))
			must(t, m.Close())

			tree, err := Assemble(filepath.Join(dir, "root"), lowers)
			must(t, err)
			must(t, c.do(tree.Dir))
			must(t, tree.Diff(cpUpper))

			want, got := describe(t, ovUpper), describe(t, cpUpper)
			if want != got {
				t.Errorf("copy snapshotter's upper differs from overlayfs's:\n--- overlay\n%s--- copy\n%s", want, got)
			}
		})
	}
}

// TestAssembleMerges checks the merged view: whiteouts applied, opaque
// directories hiding the layers below, hard links within a layer kept,
// attributes and times copied.
func TestAssembleMerges(t *testing.T) {
	lowers := lowerLayers(t)
	tree, err := Assemble(filepath.Join(t.TempDir(), "root"), lowers)
	must(t, err)
	for _, gone := range []string{"x", "gone", "opq/old"} {
		if _, err := os.Lstat(filepath.Join(tree.Dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: want it hidden, got %v", gone, err)
		}
	}
	var a, b unix.Stat_t
	must(t, unix.Lstat(filepath.Join(tree.Dir, "pair/one"), &a))
	must(t, unix.Lstat(filepath.Join(tree.Dir, "pair/two"), &b))
	if a.Ino != b.Ino {
		t.Error("a hard-linked pair was copied as two files")
	}
	if v, err := getXattr(filepath.Join(tree.Dir, "data/a"), "user.note"); err != nil || string(v) != "v1" {
		t.Errorf("user.note = %q, %v", v, err)
	}
	if l, err := os.Readlink(filepath.Join(tree.Dir, "bin/link")); err != nil || l != "tool" {
		t.Errorf("bin/link -> %q, %v", l, err)
	}
	var st unix.Stat_t
	must(t, unix.Lstat(filepath.Join(tree.Dir, "etc"), &st))
	if st.Mtim.Sec != 1_000_000_000 {
		t.Errorf("etc's mtime is %d, want the top layer's", st.Mtim.Sec)
	}
	if o, err := isOpaque(filepath.Join(tree.Dir, "opq")); err != nil || o {
		t.Errorf("the merged tree carries an opaque xattr (%v)", err)
	}
}

// describe lists a tree's entries with what a layer keeps of them (times
// only when they are older than the test: new ones are clamped to the
// epoch anyway).
func describe(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	groups := map[uint64]string{}
	start := time.Now().Add(-time.Hour).Unix()
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st2 unix.Stat_t
		if err := unix.Lstat(p, &st2); err != nil {
			return err
		}
		st := &st2
		line := fmt.Sprintf("%s %o %d:%d", rel, st2.Mode, st2.Uid, st2.Gid)
		switch st2.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
			if st.Nlink > 1 {
				if g, ok := groups[st.Ino]; ok {
					line += " =" + g
				} else {
					groups[st.Ino] = rel
				}
			}
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case unix.S_IFCHR:
			line += fmt.Sprintf(" rdev %d", st2.Rdev)
		}
		if st2.Mode&unix.S_IFMT != unix.S_IFCHR && st2.Mtim.Sec < start && rel != "." {
			line += fmt.Sprintf(" mtime %d", st2.Mtim.Sec)
		}
		xs, err := xattrs(p)
		if err != nil {
			return err
		}
		var names []string
		for n, v := range xs {
			if layer.AllowedXattr(n) || (n == layer.OpaqueXattr() && string(v) == "y") {
				names = append(names, n+"="+string(v))
			}
		}
		sort.Strings(names)
		line += " [" + strings.Join(names, " ") + "]"
		lines = append(lines, line)
		return nil
	})
	must(t, err)
	return strings.Join(lines, "\n") + "\n"
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(content), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
