// Package fsync makes finished files durable before they are published:
// the store adds objects and the exporters write outputs with the same
// calls, so both get the same crash-safety.
package fsync

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// FS flushes the whole filesystem holding path: one syncfs(2) instead of an
// fsync per file makes a tree of thousands of files cheap to make durable.
func FS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing the filesystem of %s: %w", path, err)
	}
	return nil
}

// Dir flushes a directory's entries, so that a rename into it survives a
// power cut.
func Dir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// smallTree is the most entries Tree flushes one by one. Past it, one
// syncfs is cheaper than an fsync (and a journal commit) per file.
const smallTree = 64

// Tree makes a finished tree durable before it is renamed into place. A
// small tree of plain files and directories (what most build steps leave)
// is flushed file by file and directory by directory: syncfs(2) would also
// write back every other process's dirty data on the filesystem, which on
// a busy machine sharing it costs tens of milliseconds per step. Any other
// tree gets one syncfs, as FS.
func Tree(root string) error {
	var paths []string
	small := true
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !d.IsDir() || len(paths) == smallTree {
			// A symlink, a whiteout or a device is not flushed by an
			// fsync of its own: leave it all to syncfs.
			small = false
			return fs.SkipAll
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	if !small {
		return FS(root)
	}
	// Files first, then directories deepest first, so that each
	// directory's entries are flushed after what they name.
	for i := len(paths) - 1; i >= 0; i-- {
		if err := syncPath(paths[i]); err != nil {
			return err
		}
	}
	return nil
}

func syncPath(p string) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("syncing %s: %w", p, err)
	}
	return nil
}
