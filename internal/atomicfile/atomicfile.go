// Package atomicfile replaces files and publishes outputs so that a reader,
// a concurrent writer and a crash see the old content or the new, never a
// mix and never a stray temporary: the new content is written beside the
// destination under a name of its own, flushed to disk, given its mode,
// renamed into place, and the folder's entry flushed too. The lock file,
// golden files, `kiln fmt`, downloads and exports all go through here;
// exports (Publish) are flushed only when their spec says sync=true.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kiln-build/kiln/internal/fsync"
)

// TempSuffix ends the name of every temporary file WriteFile makes, so
// that one ignore pattern (*.kiln-tmp) keeps a temporary a crash left
// out of version control and out of a local source.
const TempSuffix = ".kiln-tmp"

// WriteFile replaces path with data and gives it mode perm exactly (the
// umask does not apply). On any error path is left as it was and no
// temporary remains. Concurrent writers to one path each leave a whole
// file; the last rename wins.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// Replace is WriteFile that keeps the mode of the file it replaces (0644
// for a new one): a user's own file keeps the permissions they gave it.
func Replace(path string, data []byte) error {
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	return WriteFile(path, data, mode)
}

// Write is WriteFile for content that fill streams into the temporary
// file, as a download does. An error from fill is returned as it is,
// path is left as it was and the temporary is removed.
func Write(path string, perm fs.FileMode, fill func(f *os.File) error) (err error) {
	dir, base := split(path)
	f, err := os.CreateTemp(dir, "."+truncate(base)+".*"+TempSuffix)
	if err != nil {
		return err
	}
	tmp, placed := f.Name(), false
	defer func() {
		if !placed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	// After fill: a write by a process without CAP_FSETID clears the
	// setuid and setgid bits, and chmod does not look at the umask.
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	placed = true
	if err := fsync.Dir(dir); err != nil {
		return fmt.Errorf("%s is written, but it may not survive a crash: %w", path, err)
	}
	return nil
}

// split returns path's folder ("." for a bare name) and last element.
func split(path string) (dir, base string) {
	dir, base = filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	return dir, base
}

// truncate shortens a name that, with the random part and the suffix
// around it, would pass the 255 bytes a file name may have.
func truncate(base string) string {
	const keep = 200
	if len(base) > keep {
		return base[:keep]
	}
	return base
}
