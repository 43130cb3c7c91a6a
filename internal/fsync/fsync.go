// Package fsync makes finished files durable before they are published:
// the store adds objects and the exporters write outputs with the same
// two calls, so both get the same crash-safety.
package fsync

import (
	"fmt"
	"os"

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
