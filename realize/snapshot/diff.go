package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/store/layer"
)

// change is one entry of the upper directory Diff writes.
type change struct {
	rel      string
	whiteout bool
	// For directories: their attributes, read before their children are
	// moved out, and whether they hide the lower layers' entries.
	dir    bool
	opaque bool
	st     unix.Stat_t
}

// Diff writes into upper, an existing empty directory, what an overlay
// mount of the recorded layers with upper as its upper directory would
// hold after the changes made to t.Dir since Assemble. It moves entries
// out of t.Dir, which is left unusable.
func (t *Tree) Diff(upper string) error {
	var plan []change
	if _, err := t.walk(".", true, &plan); err != nil {
		return fmt.Errorf("comparing the step's root with its layers: %w", err)
	}
	if err := t.apply(upper, plan); err != nil {
		return fmt.Errorf("writing the step's changes: %w", err)
	}
	return nil
}

// walk adds rel to plan when it or anything below it changed, with its
// changed descendants after it. inStack says whether rel's parent is the
// same directory as before the step, so that what the lower layers held
// at rel still counts (a directory created under a new one hides nothing).
func (t *Tree) walk(rel string, inStack bool, plan *[]change) (bool, error) {
	p := filepath.Join(t.Dir, rel)
	cur, err := identity(p)
	if err != nil {
		return false, err
	}
	old, existed := t.before[rel]
	if !inStack {
		existed = false
	}
	same := existed && old.ino == cur.ino && old.btime == cur.btime && old.dir == cur.dir
	changed := !same || old.ctime != cur.ctime
	if !cur.dir {
		if changed {
			*plan = append(*plan, change{rel: rel})
		}
		return changed, nil
	}
	c := change{rel: rel, dir: true}
	if err := unix.Lstat(p, &c.st); err != nil {
		return false, err
	}
	// A directory where the layers showed something is one the step made
	// there: overlayfs makes it opaque (the root never is). Where a layer
	// only has a whiteout, overlayfs's lookup stops at it anyway, and the
	// new directory is not marked.
	c.opaque = rel != "." && !same && existed
	at := len(*plan)
	*plan = append(*plan, c)
	names, err := readNames(p)
	if err != nil {
		return false, err
	}
	any := changed
	for _, n := range names {
		ch, err := t.walk(filepath.Join(rel, n), same, plan)
		if err != nil {
			return false, err
		}
		any = any || ch
	}
	if same {
		for _, n := range t.children[rel] {
			child := filepath.Join(rel, n)
			if _, err := os.Lstat(filepath.Join(t.Dir, child)); errors.Is(err, os.ErrNotExist) {
				*plan = append(*plan, change{rel: child, whiteout: true})
				any = true
			} else if err != nil {
				return false, err
			}
		}
	}
	if !any && rel != "." {
		*plan = (*plan)[:at]
	}
	return any, nil
}

// apply writes plan into upper: directories are made anew with the step's
// attributes, everything else is moved there (hard links the step left
// between changed entries stay links), deletions become whiteouts.
func (t *Tree) apply(upper string, plan []change) error {
	moved := map[uint64]string{}
	var dirs []change
	for _, c := range plan {
		dst := filepath.Join(upper, c.rel)
		src := filepath.Join(t.Dir, c.rel)
		switch {
		case c.whiteout:
			if err := unix.Mknod(dst, unix.S_IFCHR, 0); err != nil {
				return fmt.Errorf("creating whiteout %s: %w", c.rel, err)
			}
		case c.dir:
			if c.rel != "." {
				if err := os.Mkdir(dst, 0o700); err != nil {
					return err
				}
			}
			if err := setAttrs(src, dst, &c.st); err != nil {
				return fmt.Errorf("%s: %w", c.rel, err)
			}
			if c.opaque {
				if err := unix.Lsetxattr(dst, layer.OpaqueXattr(), []byte("y"), 0); err != nil {
					return fmt.Errorf("marking %s opaque: %w", c.rel, err)
				}
			}
			dirs = append(dirs, c)
		default:
			var st unix.Stat_t
			if err := unix.Lstat(src, &st); err != nil {
				return err
			}
			if first, ok := moved[st.Ino]; ok && st.Nlink > 1 {
				if err := os.Link(first, dst); err != nil {
					return err
				}
				continue
			}
			if err := os.Rename(src, dst); err != nil {
				return err
			}
			moved[st.Ino] = dst
		}
	}
	// Times last, deepest first (plan is in pre-order): entries created
	// in a directory move its mtime. The root's are the step's only when
	// the step changed it; otherwise upper keeps its own, as an overlay's
	// upper directory does.
	for i := len(dirs) - 1; i >= 0; i-- {
		c := dirs[i]
		if c.rel == "." && t.before["."].ctime == ctimeOf(&c.st) {
			continue
		}
		ts := []unix.Timespec{c.st.Atim, c.st.Mtim}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(upper, c.rel), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return nil
}

func ctimeOf(st *unix.Stat_t) unix.StatxTimestamp {
	return unix.StatxTimestamp{Sec: st.Ctim.Sec, Nsec: uint32(st.Ctim.Nsec)}
}
