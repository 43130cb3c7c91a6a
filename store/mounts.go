package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// ErrStaleMount is returned (wrapped) by Open when a mount that a killed
// process left in the store's tmp cannot be unmounted.
var ErrStaleMount = errors.New("a killed process left a mount in the store")

// unmountBelow detaches every mount below dir, deepest first, and returns
// their mount points.
func unmountBelow(dir string) ([]string, error) {
	// The mount table names mount points by their real paths.
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	var points []string
	for _, m := range mounts {
		if m.Mountpoint != dir {
			points = append(points, m.Mountpoint)
		}
	}
	// Deepest first; a point mounted twice is unmounted as often.
	slices.SortStableFunc(points, func(a, b string) int { return len(b) - len(a) })
	var done []string
	for _, p := range points {
		err := unix.Unmount(p, unix.MNT_DETACH)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return done, fmt.Errorf("%w: unmounting %s: %v; unmount it by hand (umount -l %s) and run kiln again", ErrStaleMount, p, err, p)
		}
		if !slices.Contains(done, p) {
			done = append(done, p)
		}
	}
	return done, nil
}
