package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/store/layer"
)

// id is what makes an entry the same one after the step: its inode (the
// number, and the birth time where the filesystem keeps one, so that a
// reused number is not taken for the old entry) and its change time.
type id struct {
	ino          uint64
	btime, ctime unix.StatxTimestamp
	dir          bool
}

// Tree is an assembled root and the record of what it held.
type Tree struct {
	// Dir is the assembled root.
	Dir string
	// before is every entry's identity, by path relative to Dir.
	before map[string]id
	// children lists each directory's entries, sorted.
	children map[string][]string
}

// Assemble copies lowers (bottom first) into dir, which must not exist, as
// overlayfs would merge them, and records the result for Diff. Files are
// copied, never linked to the store: the step may write them.
func Assemble(dir string, lowers []string) (*Tree, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("assembling the step's root: %w", err)
	}
	a := &assembler{dst: dir, dirTimes: map[string][2]unix.Timespec{}}
	for i, l := range lowers {
		a.links = map[uint64]string{}
		if err := a.entry(l, ".", i == len(lowers)-1); err != nil {
			return nil, fmt.Errorf("assembling the step's root from layer %s: %w", l, err)
		}
	}
	// Directory times last: every entry created in a directory moved its
	// mtime.
	for rel, ts := range a.dirTimes {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, rel), ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, fmt.Errorf("assembling the step's root: %w", err)
		}
	}
	t := &Tree{Dir: dir, before: map[string]id{}, children: map[string][]string{}}
	if err := t.record("."); err != nil {
		return nil, fmt.Errorf("assembling the step's root: %w", err)
	}
	return t, nil
}

type assembler struct {
	dst string
	// links maps a layer's inodes to the first path copied from them, so
	// that hard links within a layer stay hard links.
	links    map[uint64]string
	dirTimes map[string][2]unix.Timespec
}

// entry merges layer's rel into the tree. A directory's attributes are the
// topmost layer's, as in an overlay mount; the root's too, but only top
// says so (below it the root keeps what the bottom layers gave).
func (a *assembler) entry(layerDir, rel string, top bool) error {
	src := filepath.Join(layerDir, rel)
	dst := filepath.Join(a.dst, rel)
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFCHR && st.Rdev == 0 {
		return a.remove(rel)
	}
	if typ != unix.S_IFDIR {
		if err := a.remove(rel); err != nil {
			return err
		}
		return a.file(src, dst, rel, &st)
	}
	opaque, err := isOpaque(src)
	if err != nil {
		return err
	}
	var cur unix.Stat_t
	exists := unix.Lstat(dst, &cur) == nil
	if exists && (cur.Mode&unix.S_IFMT != unix.S_IFDIR || opaque) {
		if err := a.remove(rel); err != nil {
			return err
		}
		exists = rel == "."
	}
	if !exists {
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
	}
	if rel != "." || top || !exists {
		if err := setAttrs(src, dst, &st); err != nil {
			return err
		}
		a.dirTimes[rel] = [2]unix.Timespec{st.Atim, st.Mtim}
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := a.entry(layerDir, filepath.Join(rel, e.Name()), false); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes rel and what is below it from the tree, and forgets the
// times of the directories it held.
func (a *assembler) remove(rel string) error {
	for p := range a.dirTimes {
		if p == rel || below(p, rel) {
			delete(a.dirTimes, p)
		}
	}
	if rel == "." {
		return clearDir(a.dst)
	}
	return os.RemoveAll(filepath.Join(a.dst, rel))
}

// below reports whether p is strictly inside dir (both relative, "." the
// root).
func below(p, dir string) bool {
	if dir == "." {
		return p != "."
	}
	return strings.HasPrefix(p, dir+"/")
}

// file copies a non-directory, or links it to an earlier copy of the same
// inode from this layer.
func (a *assembler) file(src, dst, rel string, st *unix.Stat_t) error {
	if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if first, ok := a.links[st.Ino]; ok {
			return os.Link(filepath.Join(a.dst, first), dst)
		}
		a.links[st.Ino] = rel
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if err := copyData(src, dst); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case unix.S_IFIFO:
		if err := unix.Mkfifo(dst, 0o600); err != nil {
			return err
		}
	default:
		// The store's layers hold no device nodes or sockets (the layer
		// package refuses them), so this is not a layer kiln made.
		return fmt.Errorf("%s: layers cannot hold device nodes or sockets (file type %#o)", rel, st.Mode&unix.S_IFMT)
	}
	if err := setAttrs(src, dst, st); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func copyData(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// io.Copy between two files is copy_file_range: the kernel copies (or
	// shares extents, on filesystems that can) without the data passing
	// through kiln.
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// setAttrs gives dst src's owner, mode and extended attributes, except
// overlayfs's own. Owner first: chown clears setuid and setgid bits.
func setAttrs(src, dst string, st *unix.Stat_t) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	return copyXattrs(src, dst)
}

// copyXattrs makes dst's extended attributes src's, overlayfs's own left
// out (they describe src's place in a stack, not the file).
func copyXattrs(src, dst string) error {
	want, err := xattrs(src)
	if err != nil {
		return err
	}
	have, err := xattrs(dst)
	if err != nil {
		return err
	}
	for n := range have {
		if _, ok := want[n]; !ok && !overlayOwn(n) {
			if err := unix.Lremovexattr(dst, n); err != nil && !errors.Is(err, unix.ENODATA) {
				return fmt.Errorf("removing xattr %s: %w", n, err)
			}
		}
	}
	for n, v := range want {
		if overlayOwn(n) {
			continue
		}
		if err := unix.Lsetxattr(dst, n, v, 0); err != nil {
			if !layer.AllowedXattr(n) {
				continue // dropped from layers anyway (security.selinux and such)
			}
			return fmt.Errorf("setting xattr %s: %w", n, err)
		}
	}
	return nil
}

func overlayOwn(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

func xattrs(p string) (map[string][]byte, error) {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	out := map[string][]byte{}
	if sz == 0 {
		return out, nil
	}
	buf := make([]byte, sz)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		v, err := getXattr(p, name)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

func getXattr(p, name string) ([]byte, error) {
	for {
		sz, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, p, err)
		}
		buf := make([]byte, sz)
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, p, err)
		}
		return buf[:n], nil
	}
}

func isOpaque(dir string) (bool, error) {
	v, err := unix.Lgetxattr(dir, layer.OpaqueXattr(), make([]byte, 4))
	if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading opaque xattr of %s: %w", dir, err)
	}
	return v == 1, nil
}

func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// record stores the identity of rel and everything below it.
func (t *Tree) record(rel string) error {
	i, err := identity(filepath.Join(t.Dir, rel))
	if err != nil {
		return err
	}
	t.before[rel] = i
	if !i.dir {
		return nil
	}
	names, err := readNames(filepath.Join(t.Dir, rel))
	if err != nil {
		return err
	}
	t.children[rel] = names
	for _, n := range names {
		if err := t.record(filepath.Join(rel, n)); err != nil {
			return err
		}
	}
	return nil
}

func identity(p string) (id, error) {
	var sx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &sx); err != nil {
		return id{}, &os.PathError{Op: "statx", Path: p, Err: err}
	}
	i := id{ino: sx.Ino, ctime: sx.Ctime, dir: sx.Mode&unix.S_IFMT == unix.S_IFDIR}
	if sx.Mask&unix.STATX_BTIME != 0 {
		i.btime = sx.Btime
	}
	return i, nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}
