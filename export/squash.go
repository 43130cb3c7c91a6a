package export

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// OCI whiteout names.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// Squash merges layers, bottom first, into one layer whose tar holds the
// final tree: whiteouts and opaque directories applied, each path once, in
// byte order of its path. It reads every layer once now to learn the
// result's diff_id, and again each time the result is opened.
func Squash(layers []Layer) (Layer, error) {
	if len(layers) == 0 {
		return nil, errors.New("squashing: no layers")
	}
	s := &squashed{layers: layers}
	plan, err := s.plan()
	if err != nil {
		return nil, err
	}
	s.entries = plan
	h := sha256.New()
	n, err := s.write(h)
	if err != nil {
		return nil, err
	}
	s.diffID = digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	s.size = n
	return s, nil
}

type squashed struct {
	layers  []Layer
	entries []squashEntry
	diffID  digest.Digest
	size    int64
}

// squashEntry is where the final version of a path lives: entry number
// ordinal of layer layer.
type squashEntry struct {
	path    string
	layer   int
	ordinal int
}

func (s *squashed) DiffID() digest.Digest { return s.diffID }
func (s *squashed) Size() int64           { return s.size }

func (s *squashed) Open() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		_, err := s.write(pw)
		pw.CloseWithError(err)
	}()
	return pr, nil
}

func cleanPath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// plan applies the layers' whiteouts in order and returns the surviving
// entries sorted by path.
func (s *squashed) plan() ([]squashEntry, error) {
	final := map[string]squashEntry{}
	dirs := map[string]bool{}
	// removeUnder drops p's descendants that lower layers put there.
	removeUnder := func(p string, below int) {
		prefix := p + "/"
		if p == "" {
			prefix = ""
		}
		for k, e := range final {
			if strings.HasPrefix(k, prefix) && k != p && e.layer < below {
				delete(final, k)
			}
		}
	}
	for li, l := range s.layers {
		rc, err := l.Open()
		if err != nil {
			return nil, fmt.Errorf("squashing: opening layer %s: %w", l.DiffID(), err)
		}
		tr := tar.NewReader(rc)
		for ord := 0; ; ord++ {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return nil, fmt.Errorf("squashing: reading layer %s: %w", l.DiffID(), err)
			}
			p := cleanPath(hdr.Name)
			dir, base := path.Split(p)
			dir = strings.TrimSuffix(dir, "/")
			switch {
			case base == opaqueWhiteout:
				removeUnder(dir, li)
			case strings.HasPrefix(base, whiteoutPrefix):
				gone := path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
				if e, ok := final[gone]; ok && e.layer < li {
					delete(final, gone)
				}
				removeUnder(gone, li)
			case p == "":
				// The root itself is not an entry of the result.
			default:
				if dirs[p] && hdr.Typeflag != tar.TypeDir {
					removeUnder(p, li)
				}
				dirs[p] = hdr.Typeflag == tar.TypeDir
				final[p] = squashEntry{path: p, layer: li, ordinal: ord}
			}
		}
		rc.Close()
	}
	out := make([]squashEntry, 0, len(final))
	for _, e := range final {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

// cursor reads one layer forward; entries are wanted in the result's order,
// which for layers sorted the same way only ever moves forward. A layer in
// another order is reopened when an entry lies behind.
type cursor struct {
	l   Layer
	rc  io.ReadCloser
	tr  *tar.Reader
	ord int // ordinal of the entry Next returns next
	hdr *tar.Header
}

func (c *cursor) seek(ord int) (*tar.Header, error) {
	if c.tr == nil || ord < c.ord {
		if c.rc != nil {
			c.rc.Close()
		}
		rc, err := c.l.Open()
		if err != nil {
			return nil, err
		}
		c.rc, c.tr, c.ord = rc, tar.NewReader(rc), 0
	}
	for {
		hdr, err := c.tr.Next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		c.ord++
		if c.ord-1 == ord {
			return hdr, nil
		}
	}
}

func (s *squashed) write(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	curs := make([]*cursor, len(s.layers))
	for i, l := range s.layers {
		curs[i] = &cursor{l: l}
	}
	defer func() {
		for _, c := range curs {
			if c.rc != nil {
				c.rc.Close()
			}
		}
	}()
	for _, e := range s.entries {
		c := curs[e.layer]
		hdr, err := c.seek(e.ordinal)
		if err != nil {
			return 0, fmt.Errorf("squashing: reading %s from layer %s: %w", e.path, c.l.DiffID(), err)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return 0, fmt.Errorf("squashing: writing %s: %w", e.path, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, c.tr); err != nil {
				return 0, fmt.Errorf("squashing: copying %s: %w", e.path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
