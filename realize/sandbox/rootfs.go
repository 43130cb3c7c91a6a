package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// resolveUser turns "uid[:gid]" or names into ids, reading the step's own
// /etc/passwd and /etc/group (resolved inside the root, so a symlinked
// /etc/passwd cannot point at the host's).
func resolveUser(rootfs, spec string) (uid, gid int, groups []int, err error) {
	open := func(name string) (io.Reader, func(), error) {
		p, err := securejoin.SecureJoin(rootfs, name)
		if err != nil {
			return nil, func() {}, err
		}
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, func() {}, nil
		}
		if err != nil {
			return nil, func() {}, err
		}
		return f, func() { f.Close() }, nil
	}
	passwd, closeP, err := open("/etc/passwd")
	if err != nil {
		return 0, 0, nil, fmt.Errorf("reading the step's /etc/passwd: %w", err)
	}
	defer closeP()
	group, closeG, err := open("/etc/group")
	if err != nil {
		return 0, 0, nil, fmt.Errorf("reading the step's /etc/group: %w", err)
	}
	defer closeG()
	who := spec
	if who == "" {
		who = "0:0"
	}
	u, err := user.GetExecUser(who, &user.ExecUser{Home: "/"}, passwd, group)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("resolving user %q in the step's root filesystem: %w", spec, err)
	}
	return u.Uid, u.Gid, u.Sgids, nil
}

// unmount detaches a mount; a path that is no longer a mount point is fine.
func unmount(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", path, err)
}
