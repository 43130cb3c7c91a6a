package stdlib

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/kiln-build/kiln/internal/infolder"
)

// maxFileSize bounds what file() reads: build.hcl values end up in
// derivations and plans, which are no place for large blobs.
const maxFileSize = 16 << 20

// confine resolves p against baseDir and refuses anything outside it, both
// lexically and after following symlinks, so the build cannot depend on
// files the repository does not hold.
func confine(baseDir, p string) (string, error) {
	full, err := infolder.Join(baseDir, p)
	switch {
	case errors.Is(err, infolder.ErrAbsolute):
		return "", fmt.Errorf("%q is an absolute path; paths are relative to the build file's folder, so give one inside it", p)
	case errors.Is(err, infolder.ErrOutside):
		return "", fmt.Errorf("%q is outside the build file's folder; only files inside it can be read, so move or copy the file there", p)
	case err != nil:
		return "", fmt.Errorf("%q leads through a symlink outside the build file's folder; only files inside it can be read", p)
	}
	return full, nil
}

// globEscape quotes the pattern characters of a literal path, so that a
// build folder named "proj[1]" is not read as a pattern.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func readConfined(baseDir, p string) ([]byte, error) {
	full, err := confine(baseDir, p)
	if err != nil {
		return nil, err
	}
	// Opened without blocking: opening a FIFO would wait for a writer.
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no file %q in the build file's folder", p)
		}
		return nil, fmt.Errorf("reading %q: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", p, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%q is a directory, not a file", p)
	}
	if !st.Mode().IsRegular() {
		// A FIFO or device reads differently on each run.
		return nil, fmt.Errorf("%q is not a regular file (%v)", p, st.Mode().Type())
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%q is %d bytes, more than the %d file() reads; use a source \"local\" for large inputs", p, st.Size(), maxFileSize)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("reading %q: %w", p, err)
	}
	return b, nil
}

var pathParam = []function.Parameter{{Name: "path", Type: cty.String}}

func fileFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a UTF-8 file relative to the build file's folder.",
		Params:      pathParam,
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := readConfined(baseDir, args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, function.NewArgErrorf(0, "%q is not valid UTF-8 text; use filesha256 or a source \"local\" for binary files", args[0].AsString())
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func fileSHA256Func(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the hex sha256 of a file relative to the build file's folder.",
		Params:      pathParam,
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := readConfined(baseDir, args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			sum := sha256.Sum256(b)
			return cty.StringVal(hex.EncodeToString(sum[:])), nil
		},
	})
}

func fileExistsFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reports whether a regular file exists relative to the build file's folder.",
		Params:      pathParam,
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			full, err := confine(baseDir, args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			st, err := os.Stat(full)
			return cty.BoolVal(err == nil && st.Mode().IsRegular()), nil
		},
	})
}

func globFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Lists, sorted, the paths relative to the build file's folder that match a pattern (path.Match syntax per element).",
		Params:      []function.Parameter{{Name: "pattern", Type: cty.String}},
		Type:        function.StaticReturnType(cty.List(cty.String)),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			pat := args[0].AsString()
			if _, err := confine(baseDir, pat); err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			if _, err := filepath.Match(pat, ""); err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "invalid pattern %q: %v", pat, err)
			}
			matches, err := filepath.Glob(filepath.Join(globEscape(filepath.Clean(baseDir)), pat))
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "invalid pattern %q: %v", pat, err)
			}
			// filepath.Glob sorts each directory level, not the whole list.
			vals := make([]string, 0, len(matches))
			for _, m := range matches {
				rel, err := filepath.Rel(baseDir, m)
				if err != nil {
					continue
				}
				// The pattern was confined lexically, but Glob follows
				// symlinked directories: each match's folder must really be
				// inside, or the list would depend on the host.
				dir, err := filepath.EvalSymlinks(filepath.Dir(m))
				if err != nil || !infolder.Inside(baseDir, dir) {
					return cty.NilVal, function.NewArgErrorf(0, "pattern %q matches %q, which leads through a symlink outside the build file's folder; only files inside it can be listed", pat, filepath.ToSlash(rel))
				}
				vals = append(vals, filepath.ToSlash(rel))
			}
			sort.Strings(vals)
			if len(vals) == 0 {
				return cty.ListValEmpty(cty.String), nil
			}
			out := make([]cty.Value, len(vals))
			for i, v := range vals {
				out[i] = cty.StringVal(v)
			}
			return cty.ListVal(out), nil
		},
	})
}
