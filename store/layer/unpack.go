package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/rootless"
)

// Unpack extracts an uncompressed OCI layer tar from r into dir, which
// should be empty, in overlay form: .wh.X becomes a character device 0/0
// named X and .wh..wh..opq sets trusted.overlay.opaque=y on its directory.
//
// Every entry stays inside dir. Unpack rejects, naming the entry: names or
// hardlink targets with a ".." component, any entry whose parent path
// crosses a symlink or a non-directory (no entry is written through a
// symlink, even one pointing inside dir), hardlinks to missing entries or
// directories, and device nodes. Leading "/" and "./" are dropped: a layer
// is rooted at dir. Symlink targets are stored as they are, absolute or
// not, because they are only resolved inside the container's root.
//
// Only allow-listed xattrs (AllowedXattr) are applied. Parents missing from
// the tar are created with mode 0755, owner 0:0 and mtime 0, so that the
// result does not depend on when it was unpacked. Unpack needs root (it
// sets owners, creates whiteout devices and trusted xattrs). On error, dir
// may hold a partial tree and the caller removes it; nothing outside dir is
// ever created or changed.
func Unpack(r io.Reader, dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("unpacking layer into %s: %w", dir, err)
	}
	u := &unpacker{root: fd, dirs: map[string]dirMeta{}}
	defer unix.Close(fd)
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("unpacking layer: reading tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("unpacking layer: entry %q: %w", hdr.Name, err)
		}
	}
	return u.finishDirs()
}

type dirMeta struct {
	mode  uint32
	mtime unix.Timespec
}

type unpacker struct {
	root int
	dirs map[string]dirMeta // directory (clean rel path) -> metadata applied last
}

// cleanName maps a tar name to a clean path relative to the root, "" for the
// root itself.
func cleanName(n string) (string, error) {
	n = strings.TrimLeft(n, "/")
	for _, c := range strings.Split(n, "/") {
		if c == ".." {
			return "", errors.New(`".." components are not allowed in layer entries`)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// openDir opens the directory rel below the root one component at a time,
// refusing symlinks and non-directories. With create, missing components
// are made (mode 0755, owner 0:0, mtime 0, recorded for finishDirs).
func (u *unpacker) openDir(rel string, create bool) (int, error) {
	fd, err := unix.Dup(u.root)
	if err != nil {
		return -1, err
	}
	if rel == "" {
		return fd, nil
	}
	cur := ""
	for _, c := range strings.Split(rel, "/") {
		cur = path.Join(cur, c)
		nfd, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err := unix.Mkdirat(fd, c, 0o755); err != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("creating parent %q: %w", cur, err)
			}
			if _, ok := u.dirs[cur]; !ok {
				u.dirs[cur] = dirMeta{mode: 0o755}
			}
			nfd, err = unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			var st unix.Stat_t
			if unix.Fstatat(fd, c, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				unix.Close(fd)
				if st.Mode&unix.S_IFMT == unix.S_IFLNK {
					return -1, fmt.Errorf("parent %q is a symlink; a layer may not write through symlinks", cur)
				}
				return -1, fmt.Errorf("parent %q is not a directory", cur)
			}
			unix.Close(fd)
			return -1, fmt.Errorf("opening parent %q: %w", cur, err)
		}
		unix.Close(fd)
		fd = nfd
	}
	return fd, nil
}

// clearEntry removes what is at base in the directory pfd so that a new entry can
// take its place, as later tar entries replace earlier ones. It keeps an
// existing directory when the new entry is a directory too.
func clearEntry(pfd int, base string, keepDir bool) (existingDir bool, err error) {
	var st unix.Stat_t
	err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if keepDir {
			return true, nil
		}
		if err := unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR); err != nil {
			return false, fmt.Errorf("replacing an earlier directory of this layer: %w", err)
		}
		return false, nil
	}
	return false, unix.Unlinkat(pfd, base, 0)
}

// entry writes one tar entry below the root.
func (u *unpacker) entry(hdr *tar.Header, tr io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		// PAX global records (git archive writes its commit there) describe
		// the archive, not an entry; archive/tar hands them to us as one.
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		if hdr.Typeflag == tar.TypeDir {
			return nil // the root's own metadata belongs to no layer
		}
		return errors.New("only a directory may name the layer root")
	}
	parent, base := path.Split(name)
	parent = strings.TrimSuffix(parent, "/")
	pfd, err := u.openDir(parent, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	if base == OpaqueWhiteout {
		return unix.Fsetxattr(pfd, opaqueXattr(), []byte("y"), 0)
	}
	if strings.HasPrefix(base, WhiteoutPrefix) {
		return whiteout(pfd, base, hdr)
	}
	if err := refuseSparse(hdr); err != nil {
		return err
	}
	if err := checkMappedOwner(hdr); err != nil {
		return err
	}
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.dir(pfd, name, base, mode, hdr)
	case tar.TypeReg, tar.TypeRegA:
		return regular(pfd, base, mode, hdr, tr)
	case tar.TypeSymlink:
		return symlink(pfd, base, hdr)
	case tar.TypeLink:
		return u.hardlink(pfd, name, base, hdr)
	case tar.TypeFifo:
		return fifo(pfd, base, mode, hdr)
	case tar.TypeChar, tar.TypeBlock:
		return errors.New("device nodes are not allowed in layers (the container runtime provides /dev)")
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

// whiteout turns an OCI whiteout (.wh.X) into overlayfs's: a 0/0
// character device named X.
func whiteout(pfd int, base string, hdr *tar.Header) error {
	hidden := strings.TrimPrefix(base, WhiteoutPrefix)
	if hidden == "" || hidden == "." || hidden == ".." {
		return fmt.Errorf("whiteout %q names no entry", base)
	}
	if _, err := clearEntry(pfd, hidden, false); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, hidden, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("creating whiteout: %w", err)
	}
	return setTimes(pfd, hidden, hdr)
}

// refuseSparse refuses sparse files: a sparse map lets a few bytes of tar
// claim terabytes of zeros, which would all be written out; OCI layers do
// not need them.
func refuseSparse(hdr *tar.Header) error {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return errors.New("sparse files are not supported in layers; re-create the layer without sparse-file support (tar --sparse)")
		}
	}
	return nil
}

// dir creates a directory entry, or keeps one an earlier entry made. Its
// mode and mtime are applied by finishDirs, once nothing more is created
// inside it.
func (u *unpacker) dir(pfd int, name, base string, mode uint32, hdr *tar.Header) error {
	existed, err := clearEntry(pfd, base, true)
	if err != nil {
		return err
	}
	if !existed {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return err
		}
	}
	dfd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := unix.Fchown(dfd, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if err := setXattrs(dfd, hdr); err != nil {
		return err
	}
	u.dirs[name] = dirMeta{mode: mode, mtime: unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	return nil
}

// regular writes a regular file's contents and metadata.
func regular(pfd int, base string, mode uint32, hdr *tar.Header, tr io.Reader) error {
	if _, err := clearEntry(pfd, base, false); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	if _, err := io.Copy(f, tr); err != nil {
		return fmt.Errorf("writing contents: %w", err)
	}
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	// After chown, which clears setuid/setgid.
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	if err := setXattrs(fd, hdr); err != nil {
		return err
	}
	return setTimes(pfd, base, hdr)
}

// symlink stores a symlink's target as it is (see Unpack).
func symlink(pfd int, base string, hdr *tar.Header) error {
	if _, err := clearEntry(pfd, base, false); err != nil {
		return err
	}
	if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
		return err
	}
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	return setTimes(pfd, base, hdr)
}

// hardlink links an earlier entry of this layer that is not a directory.
func (u *unpacker) hardlink(pfd int, name, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
	}
	if target == "" {
		return fmt.Errorf("hardlink target %q is the layer root", hdr.Linkname)
	}
	tparent, tbase := path.Split(target)
	tfd, err := u.openDir(strings.TrimSuffix(tparent, "/"), false)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hardlink target %q is not an earlier entry of this layer: %w", hdr.Linkname, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hardlink target %q is a directory", hdr.Linkname)
	}
	if target == name {
		return nil
	}
	if _, err := clearEntry(pfd, base, false); err != nil {
		return err
	}
	// Flags 0: a symlink target is linked itself, never followed.
	return unix.Linkat(tfd, tbase, pfd, base, 0)
}

// fifo creates a named pipe.
func fifo(pfd int, base string, mode uint32, hdr *tar.Header) error {
	if _, err := clearEntry(pfd, base, false); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0); err != nil {
		return err
	}
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
		return err
	}
	return setTimes(pfd, base, hdr)
}

func setTimes(pfd int, base string, hdr *tar.Header) error {
	ts := unix.NsecToTimespec(hdr.ModTime.UnixNano())
	return unix.UtimesNanoAt(pfd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

func setXattrs(fd int, hdr *tar.Header) error {
	keys := make([]string, 0, len(hdr.PAXRecords))
	for k := range hdr.PAXRecords {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		x, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !AllowedXattr(x) {
			continue
		}
		if err := unix.Fsetxattr(fd, x, []byte(hdr.PAXRecords[k]), 0); err != nil {
			return fmt.Errorf("setting xattr %s: %w", x, err)
		}
	}
	return nil
}

// finishDirs applies directory modes and mtimes once nothing more is created
// inside them, deepest first.
func (u *unpacker) finishDirs() error {
	paths := make([]string, 0, len(u.dirs))
	for p := range u.dirs {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool {
		di, dj := strings.Count(paths[i], "/"), strings.Count(paths[j], "/")
		if di != dj {
			return di > dj
		}
		return paths[i] < paths[j]
	})
	for _, p := range paths {
		if err := u.finishDir(p, u.dirs[p]); err != nil {
			return fmt.Errorf("unpacking layer: directory %q: %w", p, err)
		}
	}
	return nil
}

func (u *unpacker) finishDir(p string, m dirMeta) error {
	parent, base := path.Split(p)
	pfd, err := u.openDir(strings.TrimSuffix(parent, "/"), false)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil // a later entry replaced this directory; its metadata went with it
	}
	if err := unix.Fchmodat(pfd, base, m.mode, 0); err != nil {
		return err
	}
	return unix.UtimesNanoAt(pfd, base, []unix.Timespec{m.mtime, m.mtime}, unix.AT_SYMLINK_NOFOLLOW)
}

// checkMappedOwner says why an owner cannot be set by a rootless kiln,
// whose user namespace maps only the ids 0..rootless.IDs-1 (the kernel's
// EINVAL alone names neither the id nor a way out).
func checkMappedOwner(hdr *tar.Header) error {
	if !rootless.Active() || (hdr.Uid < rootless.IDs && hdr.Gid < rootless.IDs && hdr.Uid >= 0 && hdr.Gid >= 0) {
		return nil
	}
	return fmt.Errorf("owner %d:%d is outside the ids 0..%d that kiln maps when run by a normal user; build this as root", hdr.Uid, hdr.Gid, rootless.IDs-1)
}
