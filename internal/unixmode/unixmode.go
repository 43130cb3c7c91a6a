// Package unixmode converts between Unix mode bits (as stat(2), chmod(2),
// tar headers and build files write them) and Go's fs.FileMode, which
// keeps setuid, setgid and sticky in bits of its own rather than at
// 04000, 02000 and 01000. It also makes directories whose mode does not
// depend on the caller's umask.
package unixmode

import (
	"io/fs"
	"os"
)

// MkdirAll makes each of paths (and their missing parents) and gives the
// last element of each mode 0755 whatever the umask, as Docker does for
// the directories a step sees (a cache, a mount's upper).
func MkdirAll(paths ...string) error {
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Unix special bits, where stat(2) and tar put them.
const (
	setuid = 0o4000
	setgid = 0o2000
	sticky = 0o1000
)

// ToFileMode returns the permission bits of m with setuid, setgid and
// sticky as Go marks them. Bits above 07777 (the file type) are ignored.
func ToFileMode(m uint32) fs.FileMode {
	fm := fs.FileMode(m) & fs.ModePerm
	if m&setuid != 0 {
		fm |= fs.ModeSetuid
	}
	if m&setgid != 0 {
		fm |= fs.ModeSetgid
	}
	if m&sticky != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

// FromFileMode returns the permission bits of m with setuid, setgid and
// sticky in their Unix places. The file type is ignored.
func FromFileMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= setuid
	}
	if m&fs.ModeSetgid != 0 {
		u |= setgid
	}
	if m&fs.ModeSticky != 0 {
		u |= sticky
	}
	return u
}
