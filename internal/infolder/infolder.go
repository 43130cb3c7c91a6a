// Package infolder keeps the paths kiln reads on its own inside the build
// folder. A build folder may come from an untrusted checkout: a symlink in
// it must not make kiln read, hash, copy or print a host file.
package infolder

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
)

// The reasons Join refuses a path. Callers word the message for their own
// context and test for these with errors.Is.
var (
	ErrAbsolute = errors.New("absolute path")
	ErrOutside  = errors.New("outside the folder")
	ErrSymlink  = errors.New("leads through a symlink outside the folder")
)

// Join resolves p, a relative path, against baseDir and refuses anything
// outside it, both lexically and after following every symlink on the way,
// intermediate components included. The result is baseDir joined with p,
// symlinks unresolved. A path that does not exist yet is returned as it is:
// there is nothing to read, and the caller's open or stat says so.
func Join(baseDir, p string) (string, error) {
	if filepath.IsAbs(p) {
		return "", ErrAbsolute
	}
	full := filepath.Join(baseDir, p)
	rel, err := filepath.Rel(baseDir, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", ErrOutside
	}
	absBase, err := filepath.Abs(baseDir)
	if err != nil {
		return "", ErrOutside
	}
	real, err := filepath.EvalSymlinks(filepath.Join(absBase, p))
	if errors.Is(err, fs.ErrNotExist) {
		return full, nil
	}
	if err != nil || !Inside(absBase, real) {
		return "", ErrSymlink
	}
	return full, nil
}

// Inside reports whether real (a path with no symlinks) is baseDir or below
// it once baseDir's own symlinks are resolved. It fails closed.
func Inside(baseDir, real string) bool {
	realBase, err := filepath.EvalSymlinks(baseDir)
	if err != nil {
		return false
	}
	if realBase, err = filepath.Abs(realBase); err != nil {
		return false
	}
	if real, err = filepath.Abs(real); err != nil {
		return false
	}
	rel, err := filepath.Rel(realBase, real)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
