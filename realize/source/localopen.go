package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/infolder"
)

// openat2Missing is set once the kernel said it has no openat2 (before
// 5.6); openNoFollow then walks the path one component at a time.
var openat2Missing atomic.Bool

// openNoFollow opens rel (slash-separated, no "..") below the directory
// root without following any symlink on the way, the last component
// included. A local source's walk records symlinks as symlinks; this keeps
// a later open of a path it saw as a file or directory from being taken
// out of the tree by a symlink that replaced one of its components.
func openNoFollow(root *os.File, rel string, flags int) (*os.File, error) {
	flags |= unix.O_CLOEXEC | unix.O_NOFOLLOW
	if !openat2Missing.Load() {
		fd, err := unix.Openat2(int(root.Fd()), rel, &unix.OpenHow{
			Flags:   uint64(flags),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(root.Name(), rel)), nil
		}
		if !errors.Is(err, unix.ENOSYS) {
			return nil, noFollowError(root, rel, err)
		}
		openat2Missing.Store(true)
	}
	parts := strings.Split(rel, "/")
	dirfd := int(root.Fd())
	for i, p := range parts {
		if p == "" || p == "." || p == ".." {
			return nil, fmt.Errorf("opening %s: bad path component %q", filepath.Join(root.Name(), rel), p)
		}
		f := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW
		if i == len(parts)-1 {
			f = flags
		}
		fd, err := unix.Openat(dirfd, p, f, 0)
		if dirfd != int(root.Fd()) {
			unix.Close(dirfd)
		}
		if err != nil {
			return nil, noFollowError(root, rel, err)
		}
		dirfd = fd
	}
	return os.NewFile(uintptr(dirfd), filepath.Join(root.Name(), rel)), nil
}

func noFollowError(root *os.File, rel string, err error) error {
	p := filepath.Join(root.Name(), rel)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("opening %s: a symlink replaced a part of the path while kiln read the source; run the build again once the files are stable", p)
	}
	return &os.PathError{Op: "open", Path: p, Err: err}
}

// readlinkat reads the target of the symlink name in the directory dirfd.
func readlinkat(dirfd int, name string) (string, error) {
	var small [256]byte // most targets fit: no allocation but the string
	for n := len(small); ; n *= 2 {
		buf := small[:]
		if n > len(small) {
			buf = make([]byte, n)
		}
		m, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if m < n {
			return string(buf[:m]), nil
		}
	}
}

// openIgnoreFile opens the ignore file name in the source root. It may be a
// symlink, but only to a file inside the root: a checkout must not make
// kiln read a host file, whose lines an error about a bad pattern would
// then quote.
func openIgnoreFile(root *os.File, name string) (*os.File, error) {
	p := filepath.Join(root.Name(), name)
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC
	if !openat2Missing.Load() {
		fd, err := unix.Openat2(int(root.Fd()), name, &unix.OpenHow{
			Flags:   uint64(flags),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), p), nil
		case errors.Is(err, unix.EXDEV):
			return nil, fmt.Errorf("it is a symlink leading outside the local source's folder; kiln reads %s only from inside it", name)
		case !errors.Is(err, unix.ENOSYS):
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		openat2Missing.Store(true)
	}
	if _, err := infolder.Join(root.Name(), name); err != nil {
		return nil, fmt.Errorf("it is a symlink leading outside the local source's folder; kiln reads %s only from inside it", name)
	}
	return os.OpenFile(p, flags, 0)
}
