// Package overlay mounts overlayfs stacks of store layers, for run steps'
// roots and input mounts and for the read-only views file steps read from.
//
// It uses the new mount API (fsopen, fsconfig, fsmount), giving the kernel
// one layer at a time with "lowerdir+" (Linux 6.8): mount(2) takes all
// options in one string of at most a page, which a few dozen store paths
// fill, so a stage of 50 steps could not be mounted. The only limit left is
// overlayfs's own stack depth (MaxLowers). Kernels without "lowerdir+" get
// mount(2), with a clear error when the options do not fit.
package overlay

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/rootless"
)

// MaxLowers is overlayfs's limit on lower layers (OVL_MAX_STACK).
const MaxLowers = 500

// Config is one overlay mount.
type Config struct {
	// Lowers are the layers, bottom first (overlayfs lists them top
	// first). Without Upper there must be at least two.
	Lowers []string
	// Upper and Work make the mount writable: Upper receives the changes,
	// Work is overlayfs's scratch directory on the same filesystem.
	Upper, Work string
	// ReadOnly mounts it read-only.
	ReadOnly bool
	// Options are more overlayfs options, "key=value" or a bare flag
	// ("volatile").
	Options []string
}

// TooDeepError is a stack of more layers than overlayfs can mount.
type TooDeepError struct{ Layers int }

func (e *TooDeepError) Error() string {
	return fmt.Sprintf("a state of %d layers is more than overlayfs can stack (at most %d); merge some of the steps of this stage (each run, copy and file step adds a layer)", e.Layers, MaxLowers)
}

// Mount is a detached overlay mount: attached nowhere in any mount
// namespace, so no process sees it and nothing is left to unmount when kiln
// dies; the kernel drops it with its last file descriptor.
type Mount struct {
	fd int
}

// Path is where the mount's root can be reached by this process.
func (m *Mount) Path() string { return fmt.Sprintf("/proc/self/fd/%d", m.fd) }

// Close releases the mount.
func (m *Mount) Close() error {
	if m.fd < 0 {
		return nil
	}
	err := unix.Close(m.fd)
	m.fd = -1
	return err
}

// ErrUnsupported says the kernel cannot give overlayfs its layers one at a
// time (older than Linux 6.8).
var ErrUnsupported = errors.New("the kernel's overlayfs does not take layers one at a time (lowerdir+, Linux 6.8)")

// Detached mounts c without attaching it anywhere. It returns an error
// wrapping ErrUnsupported on kernels without "lowerdir+".
func Detached(c Config) (*Mount, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if legacyOnly {
		return nil, ErrUnsupported
	}
	fs, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("%w: fsopen: %v", ErrUnsupported, err)
		}
		return nil, fmt.Errorf("opening an overlay filesystem: %w", err)
	}
	defer unix.Close(fs)
	for i, l := range slices.Backward(c.Lowers) {
		if err := setPath(fs, "lowerdir+", l); err != nil {
			if i == len(c.Lowers)-1 && errors.Is(err, unix.EINVAL) {
				return nil, fmt.Errorf("%w: %v", ErrUnsupported, explain(fs, err))
			}
			return nil, fmt.Errorf("overlay layer %s: %w", l, explain(fs, err))
		}
	}
	if c.Upper != "" {
		if err := setPath(fs, "upperdir", c.Upper); err != nil {
			return nil, fmt.Errorf("overlay upper directory %s: %w", c.Upper, explain(fs, err))
		}
		if err := setPath(fs, "workdir", c.Work); err != nil {
			return nil, fmt.Errorf("overlay work directory %s: %w", c.Work, explain(fs, err))
		}
	}
	for _, o := range c.options() {
		k, v, hasValue := strings.Cut(o, "=")
		if hasValue {
			err = unix.FsconfigSetString(fs, k, v)
		} else {
			err = unix.FsconfigSetFlag(fs, k)
		}
		if err != nil {
			return nil, fmt.Errorf("overlay option %s: %w", o, explain(fs, err))
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return nil, fmt.Errorf("creating an overlay of %d layers: %w", len(c.Lowers), explain(fs, err))
	}
	attr := 0
	if c.ReadOnly {
		attr = unix.MOUNT_ATTR_RDONLY
	}
	fd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return nil, fmt.Errorf("mounting an overlay of %d layers: %w", len(c.Lowers), explain(fs, err))
	}
	return &Mount{fd: fd}, nil
}

// MountAt mounts c at target, with mount(2) on kernels without
// "lowerdir+".
func MountAt(target string, c Config) error {
	m, err := Detached(c)
	if errors.Is(err, ErrUnsupported) {
		return mountLegacy(target, c)
	}
	if err != nil {
		return err
	}
	defer m.Close()
	if err := unix.MoveMount(m.fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching an overlay of %d layers at %s: %w", len(c.Lowers), target, err)
	}
	return nil
}

// legacyOnly makes Detached report ErrUnsupported, so that tests can take
// the mount(2) path on any kernel.
var legacyOnly = false

// maxString is the longest string fsconfig copies from user space (256
// bytes with its NUL).
const maxString = 255

// setPath gives fsconfig a directory, by name when it is short enough and
// otherwise as an open file (which overlayfs takes from Linux 6.13), so that
// no length of store path is a limit.
func setPath(fs int, key, path string) error {
	if len(path) <= maxString {
		return unix.FsconfigSetString(fs, key, path)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return unix.FsconfigSetFd(fs, key, fd)
}

// explain adds the kernel's own message, which fsconfig leaves to be read
// from the context ("e overlay: ..."), to err.
func explain(fs int, err error) error {
	buf := make([]byte, 512)
	var msgs []string
	for {
		n, rerr := unix.Read(fs, buf)
		if rerr != nil || n <= 0 {
			break
		}
		msg := strings.TrimSpace(string(buf[:n]))
		if len(msg) > 2 && msg[1] == ' ' {
			msg = msg[2:]
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(msgs, "; "))
}

// options are c.Options, plus userxattr in a user namespace (a rootless
// kiln): overlayfs then keeps its own xattrs (opaque directories) under
// user.overlay.*, since trusted.* needs CAP_SYS_ADMIN on the host. The
// kernel refuses userxattr with redirect_dir=off (which still follows
// redirects, kept in trusted.*), so that becomes nofollow, which neither
// creates nor follows them.
func (c *Config) options() []string {
	if !rootless.InUserNS() {
		return c.Options
	}
	out := make([]string, 0, len(c.Options)+1)
	for _, o := range c.Options {
		if o == "redirect_dir=off" {
			o = "redirect_dir=nofollow"
		}
		out = append(out, o)
	}
	return append(out, "userxattr")
}

func (c *Config) check() error {
	if len(c.Lowers) > MaxLowers {
		return &TooDeepError{Layers: len(c.Lowers)}
	}
	if len(c.Lowers) == 0 || (c.Upper == "" && len(c.Lowers) < 2) {
		return fmt.Errorf("an overlay needs two layers, or one and an upper directory (got %d layers)", len(c.Lowers))
	}
	if (c.Upper == "") != (c.Work == "") {
		return errors.New("an overlay needs both an upper and a work directory, or neither")
	}
	return nil
}

// Data is mount(2)'s option string for c, for kernels without "lowerdir+"
// and for mounts made by others (libcontainer). It fails when a path cannot
// be written in it or the whole does not fit in the page the kernel takes.
func Data(c Config) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	for _, p := range append(slices.Clone(c.Lowers), c.Upper, c.Work) {
		if strings.ContainsAny(p, ":,\\") {
			return "", fmt.Errorf("layer path %q contains ':', ',' or '\\', which overlayfs options cannot carry", p)
		}
	}
	rev := slices.Clone(c.Lowers)
	slices.Reverse(rev)
	data := "lowerdir=" + strings.Join(rev, ":")
	if c.Upper != "" {
		data += ",upperdir=" + c.Upper + ",workdir=" + c.Work
	}
	for _, o := range c.options() {
		data += "," + o
	}
	if limit := os.Getpagesize() - 1; len(data) > limit {
		return "", fmt.Errorf("%d layers need %d bytes of overlay mount options, and this kernel takes at most %d in one string (Linux 6.8 and later take any number, up to %d); merge some of the steps of this stage", len(c.Lowers), len(data), limit, MaxLowers)
	}
	return data, nil
}

func mountLegacy(target string, c Config) error {
	data, err := Data(c)
	if err != nil {
		return err
	}
	var flags uintptr
	if c.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("overlay", target, "overlay", flags, data); err != nil {
		return fmt.Errorf("mounting an overlay of %d layers at %s: %w", len(c.Lowers), target, err)
	}
	return nil
}
