package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/fsync"
)

// ErrExists is returned (wrapped) by Publish when dest exists and replace
// is false.
var ErrExists = errors.New("destination exists")

// Publish runs write on a temporary sibling of dest (a file or a
// directory, as write makes it) and renames the result into place. On any
// error the temporary is removed, so dest is left as it was: absent, or
// the old content when replacing. Without replace it never replaces what
// is at dest.
//
// The rename makes the output atomic against kiln itself failing: a
// crash, kill -9 or Ctrl-C leaves the old dest or the whole new one, never
// a half-written one. Durability against a power cut is flush's: with
// flush, what write made is flushed to disk (file by file for a small
// tree, else one syncfs(2); see fsync.Tree) before it takes dest's name,
// and dest's folder after, so a crash of the machine never leaves dest
// naming empty or partial files. Without flush the data reaches the disk
// when the kernel writes it back, as with tar, cp, docker save and
// BuildKit's exporters: an export is a copy of what the store holds, and
// waiting for the disk costs more than writing it (docs/store.md).
func Publish(dest string, replace, flush bool, write func(tmp string) error) error {
	if _, err := os.Lstat(dest); err == nil {
		if !replace {
			return exists(dest)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot write to %s (is its folder there and writable?): %w", dest, err)
	}
	dir, base := split(dest)
	tmp, err := os.MkdirTemp(dir, ".kiln-"+base+"-*")
	if err != nil {
		return fmt.Errorf("cannot write to %s (is its folder there and writable?): %w", dest, err)
	}
	// MkdirTemp made a directory; write sees only a name inside it, so a
	// file output and a directory output are handled alike.
	target := filepath.Join(tmp, "out")
	if err := write(target); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if flush {
		if err := fsync.Tree(target); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("writing %s: flushing to disk: %w", dest, err)
		}
	}
	if err := place(target, dest, replace); err != nil {
		// Only the new content goes: should place have failed to put old
		// content back, it is in tmp, as its error says.
		os.RemoveAll(target)
		os.Remove(tmp)
		return err
	}
	if flush {
		if err := fsync.Dir(dir); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("writing %s: %w", dest, err)
		}
	}
	// After an exchange tmp holds the old content.
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("%s is written, but removing the temporary %s failed (remove it by hand): %w", dest, tmp, err)
	}
	return nil
}

func exists(dest string) error {
	return fmt.Errorf("%s: %w", dest, ErrExists)
}

// place renames target to dest. Without replace it never replaces what
// appeared at dest since Publish looked; with replace it swaps the two in
// one step, so that at every instant dest is the old or the new content
// and target is left holding the old one.
func place(target, dest string, replace bool) error {
	flags := uint(unix.RENAME_NOREPLACE)
	if replace {
		flags = unix.RENAME_EXCHANGE
	}
	err := unix.Renameat2(unix.AT_FDCWD, target, unix.AT_FDCWD, dest, flags)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return exists(dest)
	case replace && errors.Is(err, unix.ENOENT):
		// Replacing, but nothing to swap with: dest is gone meanwhile.
		return place(target, dest, false)
	case !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("moving output to %s: %w", dest, err)
	}
	// The filesystem has no renameat2 flags: move any old content aside,
	// and back again should the new one fail to take its place.
	old := filepath.Join(filepath.Dir(target), "old")
	moved := false
	if replace {
		if err := os.Rename(dest, old); err == nil {
			moved = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("replacing %s: %w", dest, err)
		}
	} else if _, err := os.Lstat(dest); err == nil {
		return exists(dest)
	}
	if err := os.Rename(target, dest); err != nil {
		if moved {
			if rerr := os.Rename(old, dest); rerr != nil {
				return fmt.Errorf("moving output to %s: %w; the old content could not be put back and is in %s", dest, err, old)
			}
		}
		return fmt.Errorf("moving output to %s: %w", dest, err)
	}
	return nil
}
