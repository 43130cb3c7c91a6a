package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client/llb"

	"github.com/kiln-build/kiln/realize/executor"
)

// File applies a file step's mkdir, mkfile, symlink and rm actions as one
// llb.File on the daemon and unpacks llb.Diff(base, result) into
// spec.Upper, as Exec does for a run.
//
// BuildKit's file actions differ from kiln's in places: its mkdir leaves
// an existing directory as it is (kiln's gives it the mode and owner
// asked for), its mkdir -p gives the parents it makes the mode and owner
// of the directory asked for (kiln's are root's, 0755), its mkfile makes
// no parents, its symlink does not replace what is there, and modes lose
// their setuid, setgid and sticky bits. TranslateFile writes kiln's
// meaning with BuildKit's actions where it can (parents as a mkdir -p of
// their own, root's, 0755; an rm before a symlink) and declines the step
// (executor.ErrRunLocally) where it cannot: a mkdir of a path that
// exists or whose mode has group or other write bits (a umask could take
// them), a mode above 0777, a mkfile over anything but a file, a path
// through a symlink, a path an earlier
// action of the step wrote, an action that would fail. kiln then applies
// the step itself, and its errors are kiln's.
func (e *Executor) File(ctx context.Context, spec executor.FileSpec) error {
	c, err := e.client(ctx)
	if err != nil {
		return &DaemonError{Addr: e.Addr, Err: err}
	}
	d, err := TranslateFile(spec)
	if err != nil {
		return err
	}
	defer d.Close()
	image := filepath.Join(spec.Scratch, "result.tar")
	if err := e.solve(ctx, c, d, image, nil, nil); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, errStoppedAnswering) && e.answers(ctx) {
			// The daemon refused the actions: kiln's own file step gives
			// its error (or, where the rules differ, its result).
			return executor.ErrRunLocally
		}
		return &DaemonError{Addr: e.Addr, Err: err}
	}
	if err := unpackDiff(image, spec.Upper); err != nil {
		return fmt.Errorf("reading the file step's changes from buildkitd: %w", err)
	}
	if err := timeWhiteouts(spec.Upper, time.Now()); err != nil {
		return fmt.Errorf("reading the file step's changes from buildkitd: %w", err)
	}
	return nil
}

// TranslateFile turns a file step into llb.File actions on its base, or
// returns executor.ErrRunLocally (see File). The base is mounted under
// spec.Scratch, to be sent and to check the actions against; Close
// unmounts it.
func TranslateFile(spec executor.FileSpec) (_ *Definition, err error) {
	d := &Definition{Locals: map[string]string{}, Secrets: map[string][]byte{}}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	base, err := d.local(spec.Base, "root", spec.Scratch)
	if err != nil {
		return nil, err
	}
	view := d.RootDir
	// lstat looks p up in the base, one element at a time so that no
	// symlink is followed: a path through one is declined (errThroughLink),
	// as BuildKit and kiln need not resolve it alike.
	lstat := func(p string) (fs.FileInfo, error) {
		if view == "" {
			return nil, fs.ErrNotExist
		}
		cur := view
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		for i, part := range parts {
			cur = filepath.Join(cur, part)
			fi, err := os.Lstat(cur)
			if err != nil {
				return nil, err
			}
			if i == len(parts)-1 {
				return fi, nil
			}
			if fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
				return nil, errThroughLink
			}
		}
		return nil, fs.ErrNotExist
	}
	var touched []string
	clash := func(p string) bool {
		for _, t := range touched {
			if t == p || strings.HasPrefix(p, t+"/") || strings.HasPrefix(t, p+"/") {
				return true
			}
		}
		return false
	}
	var fa *llb.FileAction
	// parents checks p's ancestors: directories of the base, or missing
	// ones that kiln makes root's and 0755 when create is set.
	parents := func(p string, create bool) error {
		dir := path.Dir(p)
		if dir == "/" {
			return nil
		}
		fi, err := lstat(dir)
		switch {
		case err == nil && fi.IsDir():
			return nil
		case errors.Is(err, fs.ErrNotExist) && create:
			fa = mkdir(fa, dir, 0o755, llb.WithParents(true), llb.WithUIDGID(0, 0))
			return nil
		case err == nil, errors.Is(err, fs.ErrNotExist), errors.Is(err, errThroughLink):
			return executor.ErrRunLocally
		}
		return err
	}
	for _, a := range spec.Actions {
		p := path.Clean("/" + a.Path)
		if p == "/" || clash(p) {
			return nil, executor.ErrRunLocally
		}
		touched = append(touched, p)
		fi, err := lstat(p)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			if errors.Is(err, errThroughLink) {
				return nil, executor.ErrRunLocally
			}
			return nil, err
		}
		switch a.Action {
		case "mkdir", "mkfile":
			// BuildKit keeps an existing directory's mode and owner,
			// follows a path that is a symlink, drops setuid, setgid and
			// sticky bits, and makes a directory through its umask
			// without a chmod after.
			if a.Mode&^0o777 != 0 || (a.Action == "mkdir" && (exists || a.Mode&0o022 != 0)) ||
				(a.Action == "mkfile" && exists && !fi.Mode().IsRegular()) {
				return nil, executor.ErrRunLocally
			}
			if err := parents(p, a.Parents); err != nil {
				return nil, err
			}
			if a.Action == "mkdir" {
				fa = mkdir(fa, p, os.FileMode(a.Mode), llb.WithUIDGID(a.UID, a.GID))
			} else {
				opt := llb.WithUIDGID(a.UID, a.GID)
				if fa == nil {
					fa = llb.Mkfile(p, os.FileMode(a.Mode), []byte(a.Data), opt)
				} else {
					fa = fa.Mkfile(p, os.FileMode(a.Mode), []byte(a.Data), opt)
				}
			}
		case "symlink":
			if err := parents(p, true); err != nil {
				return nil, err
			}
			if exists {
				if fi.IsDir() {
					// kiln's symlink over a directory fails or keeps its
					// contents' whiteouts apart: kiln decides.
					return nil, executor.ErrRunLocally
				}
				fa = rm(fa, p)
			}
			opt := llb.WithUIDGID(a.UID, a.GID)
			if fa == nil {
				fa = llb.Symlink(a.Target, p, opt)
			} else {
				fa = fa.Symlink(a.Target, p, opt)
			}
		case "rm":
			if !exists {
				if a.AllowNotFound {
					continue
				}
				return nil, executor.ErrRunLocally
			}
			fa = rm(fa, p)
		default:
			return nil, executor.ErrRunLocally
		}
	}
	if fa == nil {
		// Nothing to do (an rm of what is not there): no changes, and
		// kiln makes the empty layer itself.
		return nil, executor.ErrRunLocally
	}
	d.Run = base.File(fa, llb.WithCustomName("[kiln] file step "+spec.ID))
	d.State = llb.Diff(base, d.Run)
	return d, nil
}

// errThroughLink is a path whose parent is a symlink or not a directory.
var errThroughLink = errors.New("a parent is a symlink or not a directory")

func mkdir(fa *llb.FileAction, p string, m os.FileMode, opts ...llb.MkdirOption) *llb.FileAction {
	if fa == nil {
		return llb.Mkdir(p, m, opts...)
	}
	return fa.Mkdir(p, m, opts...)
}

func rm(fa *llb.FileAction, p string) *llb.FileAction {
	if fa == nil {
		return llb.Rm(p)
	}
	return fa.Rm(p)
}
