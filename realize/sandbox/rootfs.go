package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/realize/overlay"
	"github.com/kiln-build/kiln/realize/snapshot"
)

// rootOverlayOptions keep Upper a self-contained layer: with metacopy a
// copied-up file's data would stay in the lower, with redirect_dir a
// renamed directory would point into the lower, and index would tie Upper
// to this mount. volatile skips syncs inside the step: Upper is a scratch
// directory that the store syncs itself when it adds the layer, and is
// thrown away if kiln crashes first.
var rootOverlayOptions = []string{"redirect_dir=off", "metacopy=off", "index=off", "volatile"}

// mountRoot prepares the skeleton layer and mounts the root overlay at
// StateDir/rootfs, returning that path. With the copy snapshotter it
// assembles the root in Work instead (on Upper's filesystem, so that Diff
// moves the step's files into Upper) and returns the tree to diff; nothing
// is then mounted.
func mountRoot(spec Spec) (string, *snapshot.Tree, error) {
	skel := filepath.Join(spec.StateDir, skelSubdir)
	if err := writeSkeleton(skel, spec); err != nil {
		return "", nil, err
	}
	if err := matchRootAttrs(spec.Upper, spec.Lowers); err != nil {
		return "", nil, err
	}
	for _, m := range spec.Mounts {
		// A writable overlay's root takes its mode from Upper too.
		if m.Type == "overlay" && m.Upper != "" {
			if err := matchRootAttrs(m.Upper, m.Lowers); err != nil {
				return "", nil, fmt.Errorf("mount at %s: %w", m.Dest, err)
			}
		}
	}
	kind, _, err := snapshot.Choose(filepath.Dir(spec.StateDir))
	if err != nil {
		return "", nil, err
	}
	if kind == snapshot.Copy {
		tree, err := snapshot.Assemble(filepath.Join(spec.Work, copyRootSubdir), append([]string{skel}, spec.Lowers...))
		if err != nil {
			return "", nil, err
		}
		return tree.Dir, tree, nil
	}
	rootfs := filepath.Join(spec.StateDir, rootfsSubdir)
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return "", nil, fmt.Errorf("creating root mount point: %w", err)
	}
	cfg := overlay.Config{
		Lowers:  append([]string{skel}, spec.Lowers...),
		Upper:   spec.Upper,
		Work:    spec.Work,
		Options: rootOverlayOptions,
	}
	if err := overlay.MountAt(rootfs, cfg); err != nil {
		return "", nil, fmt.Errorf("mounting the step's root filesystem (overlay of %d layers, upper %s): %w%s", len(spec.Lowers), spec.Upper, err, overlayHint(kind))
	}
	return rootfs, nil, nil
}

// copyRootSubdir is where in Work the copy snapshotter assembles a root.
const copyRootSubdir = "root"

// mountInputs mounts the overlays among spec's mounts on kiln's side, under
// StateDir/mounts, and returns the mounts with those replaced by binds of
// them, and kiln's mount points. libcontainer would mount an overlay
// with mount(2), whose one-page option string holds only a few dozen
// layers; this way any stack overlayfs takes can be mounted. Run unmounts
// kiln's copies once the container has its own.
func mountInputs(spec Spec) ([]Mount, []string, error) {
	out := slices.Clone(spec.Mounts)
	var points []string
	for i, m := range out {
		if m.Type != "overlay" || (m.Upper == "" && len(m.Lowers) == 1) {
			continue
		}
		p := filepath.Join(spec.StateDir, mountsSubdir, strconv.Itoa(i))
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, points, fmt.Errorf("creating mount point: %w", err)
		}
		ro := m.ReadOnly || m.Upper == ""
		kind, _, err := snapshot.Choose(filepath.Dir(spec.StateDir))
		if err != nil {
			return nil, points, err
		}
		if kind == snapshot.Copy {
			// A private copy: a writable mount's writes are thrown away
			// with it, as an overlay's scratch upper is.
			tree, err := snapshot.Assemble(filepath.Join(p, "tree"), m.Lowers)
			if err != nil {
				return nil, points, fmt.Errorf("mount at %s: %w", m.Dest, err)
			}
			out[i] = Mount{Type: "bind", Source: tree.Dir, Dest: m.Dest, ReadOnly: ro}
			continue
		}
		cfg := overlay.Config{Lowers: m.Lowers, Upper: m.Upper, Work: m.Work, ReadOnly: ro}
		if err := overlay.MountAt(p, cfg); err != nil {
			return nil, points, fmt.Errorf("mount at %s: %w%s", m.Dest, err, overlayHint(kind))
		}
		points = append(points, p)
		out[i] = Mount{Type: "bind", Source: p, Dest: m.Dest, ReadOnly: ro}
	}
	return out, points, nil
}

// writeSkeleton creates the bottom layer of the root: the mount points the
// sandbox needs, so that neither libcontainer nor the kernel creates them
// in Upper (where they would become part of the step's output). Its
// timestamps are 0, so a directory of it that a step copies up carries no
// trace of when the step ran.
func writeSkeleton(dir string, spec Spec) error {
	dirs := []string{"proc", "dev", "sys"}
	var files []string
	if spec.Network {
		for _, f := range networkFiles {
			if _, err := os.Stat(f); err == nil {
				files = append(files, f)
			}
		}
	}
	for _, m := range spec.Mounts {
		// Cleaned as an absolute path, a Dest's ".." stops at "/": joined
		// raw to dir, "/../../x" would reach out of the skeleton into the
		// host (and truncate a host file to make a file's mount point).
		dest := filepath.Clean(m.Dest)
		isFile := false
		if m.Type == "bind" {
			fi, err := os.Stat(m.Source)
			if err != nil {
				return fmt.Errorf("bind mount source for %s: %w", m.Dest, err)
			}
			isFile = !fi.IsDir()
		}
		if isFile {
			files = append(files, dest)
		} else {
			dirs = append(dirs, dest)
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("creating skeleton layer: %w", err)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("creating skeleton layer: %w", err)
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating skeleton layer: %w", err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return fmt.Errorf("creating skeleton layer: %w", err)
		}
	}
	// Modes are set explicitly, not left to kiln's umask: a step that
	// writes next to a mount point copies its skeleton parents up into
	// the output, mode included.
	epoch := time.Unix(0, 0)
	return filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if de.IsDir() {
			mode = 0o755
		}
		if err := os.Chmod(p, mode); err != nil {
			return fmt.Errorf("creating skeleton layer: %w", err)
		}
		return os.Chtimes(p, epoch, epoch)
	})
}

// matchRootAttrs gives Upper the mode and owner of the top layer's root:
// the container's "/" takes them from Upper, and a temporary directory's
// 0700 would otherwise leak into every step.
func matchRootAttrs(upper string, lowers []string) error {
	mode, uid, gid := os.FileMode(0o755), 0, 0
	if len(lowers) > 0 {
		fi, err := os.Stat(lowers[len(lowers)-1])
		if err != nil {
			return fmt.Errorf("reading the top layer: %w", err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		mode, uid, gid = fi.Mode().Perm()|fi.Mode()&os.ModeSticky, int(st.Uid), int(st.Gid)
	}
	if err := os.Chown(upper, uid, gid); err != nil {
		return fmt.Errorf("preparing upper directory: %w", err)
	}
	if err := os.Chmod(upper, mode); err != nil {
		return fmt.Errorf("preparing upper directory: %w", err)
	}
	return nil
}

// maxAccountFile bounds what kiln reads of a step's /etc/passwd or
// /etc/group, as BuildKit's executor does (10 MiB): they come from the
// build, not from kiln.
const maxAccountFile = 10 << 20

// resolveUser turns the step's user into the uid, gid and supplementary
// groups its process runs with, exactly as BuildKit's executor (and so
// docker) does, so that a step sees the same `id` under both:
//   - no user is "0", looked up like a name but falling back to root
//     when the lookup fails;
//   - "uid:gid" in numbers (either may be spelled "root") is taken as it
//     is, with no lookup and no memberships;
//   - anything else is resolved in the step's own /etc/passwd and
//     /etc/group (read inside the root, so a symlinked /etc/passwd cannot
//     point at the host's), and a user without an explicit group gets its
//     memberships in /etc/group as supplementary groups.
//
// The primary gid is always among the supplementary groups, as
// containerd does since CVE-2023-25173: without it, a process that
// changes its gid (a setgid program) would lose the primary group and get
// past a file whose group permissions deny that group.
func resolveUser(rootfs, spec string) (uid, gid int, groups []int, err error) {
	who, isDefault := spec, spec == ""
	if isDefault {
		who = "0"
	}
	if u, g, ok := parseUIDGID(who); ok {
		return u, g, []int{g}, nil
	}
	passwd, err := openAccountFile(rootfs, "/etc/passwd")
	if err != nil {
		return 0, 0, nil, fmt.Errorf("reading the step's /etc/passwd: %w", err)
	}
	defer passwd.Close()
	group, err := openAccountFile(rootfs, "/etc/group")
	if err != nil {
		return 0, 0, nil, fmt.Errorf("reading the step's /etc/group: %w", err)
	}
	defer group.Close()
	u, err := user.GetExecUser(who, nil, passwd.reader(), group.reader())
	if err != nil {
		if isDefault {
			return 0, 0, []int{0}, nil
		}
		return 0, 0, nil, fmt.Errorf("resolving user %q in the step's root filesystem: %w; add the user in an earlier step or use numeric uid:gid", spec, err)
	}
	groups = u.Sgids
	if !slices.Contains(groups, u.Gid) {
		groups = append([]int{u.Gid}, groups...)
	}
	return u.Uid, u.Gid, groups, nil
}

// parseUIDGID takes "uid:gid" when both are numbers or "root", as
// BuildKit's fast path does.
func parseUIDGID(s string) (uid, gid int, ok bool) {
	u, g, hasG := strings.Cut(s, ":")
	if !hasG {
		return 0, 0, false
	}
	id := func(s string) (int, bool) {
		if s == "root" {
			return 0, true
		}
		n, err := strconv.ParseUint(s, 10, 32)
		return int(n), err == nil
	}
	uid, okU := id(u)
	gid, okG := id(g)
	return uid, gid, okU && okG
}

// accountFile is a step's /etc/passwd or /etc/group; a nil one is absent.
type accountFile struct {
	f    *os.File
	name string
}

// openAccountFile opens name inside rootfs. A missing or non-regular file
// (a directory, a FIFO, a device) counts as absent, as it does for
// BuildKit; kiln never opens anything but a regular file there.
func openAccountFile(rootfs, name string) (*accountFile, error) {
	p, err := securejoin.SecureJoin(rootfs, name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return &accountFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return &accountFile{}, nil
	}
	// The step has not started, so nothing changes the root meanwhile;
	// O_NOFOLLOW and the second check are there all the same.
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s changed while kiln read it", name)
	}
	return &accountFile{f: f, name: name}, nil
}

func (a *accountFile) Close() {
	if a.f != nil {
		a.f.Close()
	}
}

// reader reads at most maxAccountFile bytes and fails past them; nil
// (not a typed nil) when the file is absent, which GetExecUser needs.
func (a *accountFile) reader() io.Reader {
	if a.f == nil {
		return nil
	}
	return &limitedReader{r: io.LimitReader(a.f, maxAccountFile+1), name: a.name}
}

type limitedReader struct {
	r    io.Reader
	n    int64
	name string
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > maxAccountFile {
		return 0, fmt.Errorf("the step's %s is larger than %d bytes", l.name, maxAccountFile)
	}
	return n, err
}

// unmount detaches a mount; a path that is no longer a mount point is fine.
func unmount(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", path, err)
}
