package layer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Normalize prepares dir, the upper directory of a finished sandbox or a
// freshly unpacked tree, to become a layer. In place, for every entry
// including dir itself:
//
//   - an mtime later than epoch (seconds since 1970) is set to epoch;
//     older mtimes are kept, as BuildKit's rewrite-timestamp does, so files
//     copied with their times stay as they were;
//   - atime is set equal to the mtime, so nothing on disk records when the
//     build ran (ctime cannot be set and is never read);
//   - extended attributes outside AllowedXattr are removed, except
//     trusted.overlay.opaque=y on directories;
//   - sockets, block devices and character devices other than 0/0 overlay
//     whiteouts are rejected, naming the path: they cannot be stored.
//
// FIFOs and hardlinks are kept (tar represents both). Normalize fails on an
// overlay redirect or metacopy xattr, since the tree would then not hold the
// layer's full contents.
func Normalize(dir string, epoch int64) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("normalizing layer: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("normalizing layer: %s is not a directory", dir)
	}
	return normalizeEntry(dir, ".", epoch)
}

func normalizeEntry(root, rel string, epoch int64) error {
	p := filepath.Join(root, rel)
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return fmt.Errorf("normalizing layer: %w", err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK, unix.S_IFIFO:
	case unix.S_IFCHR:
		if st.Rdev != 0 {
			return fmt.Errorf("normalizing layer: %s is a character device (%d:%d); layers cannot hold device nodes: remove it before the step ends, the runtime provides /dev",
				rel, unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
	case unix.S_IFBLK:
		return fmt.Errorf("normalizing layer: %s is a block device; layers cannot hold device nodes: remove it before the step ends", rel)
	case unix.S_IFSOCK:
		return fmt.Errorf("normalizing layer: %s is a socket; layers cannot hold sockets: stop whatever listens on it and remove it before the step ends", rel)
	default:
		return fmt.Errorf("normalizing layer: %s has unsupported file type %#o", rel, st.Mode&unix.S_IFMT)
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if err := normalizeXattrs(p, rel, isDir); err != nil {
		return err
	}
	if isDir {
		ents, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("normalizing layer: %w", err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), WhiteoutPrefix) {
				return fmt.Errorf("normalizing layer: %s: OCI layers reserve the %s prefix for whiteouts, so this name cannot be stored; rename it", filepath.Join(rel, e.Name()), WhiteoutPrefix)
			}
			if err := normalizeEntry(root, filepath.Join(rel, e.Name()), epoch); err != nil {
				return err
			}
		}
	}
	// Times last: nothing below changes this entry's mtime any more (the
	// children are already done and xattr changes only touch ctime).
	mt := unix.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec}
	if mt.Sec > epoch || (mt.Sec == epoch && mt.Nsec > 0) {
		mt = unix.Timespec{Sec: epoch}
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{mt, mt}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("normalizing layer: setting times of %s: %w", rel, err)
	}
	return nil
}

func normalizeXattrs(p, rel string, isDir bool) error {
	names, err := listXattrs(p)
	if err != nil {
		return fmt.Errorf("normalizing layer: listing xattrs of %s: %w", rel, err)
	}
	for _, n := range names {
		switch n {
		case "trusted.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.redirect", "user.overlay.metacopy":
			return fmt.Errorf("normalizing layer: %s carries %s, so the tree does not hold its full contents; mount the sandbox's overlay with redirect_dir=off,metacopy=off", rel, n)
		case opaqueXattr():
			if isDir {
				v, err := getXattr(p, n)
				if err != nil {
					return fmt.Errorf("normalizing layer: reading %s of %s: %w", n, rel, err)
				}
				if string(v) == "y" {
					continue
				}
			}
		}
		if AllowedXattr(n) {
			continue
		}
		if err := unix.Lremovexattr(p, n); err != nil && !errors.Is(err, unix.ENODATA) {
			return fmt.Errorf("normalizing layer: removing xattr %s of %s: %w", n, rel, err)
		}
	}
	return nil
}
