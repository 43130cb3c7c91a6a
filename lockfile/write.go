package lockfile

import (
	"fmt"
	"os"

	"github.com/kiln-build/kiln/internal/atomicfile"
)

// WriteFile writes l to path atomically: to a temporary file in the same
// folder, synced, then renamed over path. A failure at any point leaves the
// old lock as it was.
func WriteFile(path string, l *Lock) error {
	return writeBytes(path, l.Bytes())
}

func writeBytes(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing lock file: %w", err)
	}
	return nil
}

// MergeFiles runs Merge as git's merge driver does: `kiln lock --merge %O
// %A %B` reads the three versions and leaves the result in ours (%A). On a
// conflict ours is left untouched and the error says which inputs clash.
func MergeFiles(base, ours, theirs string) error {
	read := func(p string) ([]byte, error) {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			return nil, nil
		}
		return b, err
	}
	b, err := read(base)
	if err != nil {
		return fmt.Errorf("merging lock files: %w", err)
	}
	o, err := read(ours)
	if err != nil {
		return fmt.Errorf("merging lock files: %w", err)
	}
	t, err := read(theirs)
	if err != nil {
		return fmt.Errorf("merging lock files: %w", err)
	}
	out, err := Merge(b, o, t)
	if err != nil {
		return err
	}
	return writeBytes(ours, out)
}
