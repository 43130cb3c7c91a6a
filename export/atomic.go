package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned (wrapped) when an output's destination exists and
// the spec does not say force=true.
var ErrExists = errors.New("destination exists")

// atomically runs write on a temporary sibling of dest (a file or a
// directory, as write makes it) and renames the result into place. On any
// error the temporary is removed, so dest is left as it was: absent, or
// the old content when forced.
func atomically(dest string, force bool, write func(tmp string) error) error {
	if _, err := os.Lstat(dest); err == nil {
		if !force {
			return fmt.Errorf("%s: %w; remove it or add force=true to the output spec", dest, ErrExists)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot write to %s (is its folder there and writable?): %w", dest, err)
	}
	dir, base := filepath.Split(filepath.Clean(dest))
	if dir == "" {
		dir = "."
	}
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
	if force {
		if _, err := os.Lstat(dest); err == nil {
			old := filepath.Join(tmp, "old")
			if err := os.Rename(dest, old); err != nil {
				os.RemoveAll(tmp)
				return fmt.Errorf("replacing %s: %w", dest, err)
			}
		}
	}
	if err := os.Rename(target, dest); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("moving output to %s: %w", dest, err)
	}
	return os.RemoveAll(tmp)
}
