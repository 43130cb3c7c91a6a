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
// the layer package's canonical order (depth first, siblings by name), so
// that a hardlink follows its target. A hardlink whose target a higher
// layer replaced or removed becomes a copy of the file it linked to. It
// reads every layer once now to learn the result's diff_id, and again each
// time the result is opened.
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
// ordinal of layer layer. A hardlink whose target did not survive has
// content >= 0: the ordinal, in the same layer, of the file it linked to,
// written in its place.
type squashEntry struct {
	path    string
	layer   int
	ordinal int
	content int
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
	// links maps each hardlink to what it named when read: the entry at
	// its link name and the file behind it (the same, unless it linked to
	// a link). files maps each path of the layer being read to its latest
	// entry.
	type link struct {
		name         string
		direct, file int
	}
	links := map[string]link{}
	type fileEntry struct {
		ordinal int
		link    string // the target, for a hardlink
	}
	for li, l := range s.layers {
		files := map[string]fileEntry{}
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
				final[p] = squashEntry{path: p, layer: li, ordinal: ord, content: -1}
				fe := fileEntry{ordinal: ord}
				delete(links, p)
				delete(files, p)
				switch hdr.Typeflag {
				case tar.TypeReg:
					files[p] = fe
				case tar.TypeLink:
					fe.link = cleanPath(hdr.Linkname)
					if d, ok := files[fe.link]; ok {
						f := d
						for n := 0; f.link != "" && n < len(files); n++ {
							if f, ok = files[f.link]; !ok {
								break
							}
						}
						if ok && f.link == "" {
							links[p] = link{name: fe.link, direct: d.ordinal, file: f.ordinal}
						}
					}
					files[p] = fe
				}
			}
		}
		rc.Close()
	}
	out := make([]squashEntry, 0, len(final))
	for p, e := range final {
		if l, ok := links[p]; ok {
			if t, ok := final[l.name]; !ok || t.layer != e.layer || t.ordinal != l.direct {
				e.content = l.file
			}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return treeOrder(out[i].path, out[j].path) < 0 })
	return out, nil
}

// treeOrder compares two clean paths in the order of the layer package's
// canonical tar: depth first, siblings by the bytes of their names. It is
// byte order with '/' sorting before every other byte, so that python3/...
// comes before python3.11, as it does in each layer: a layer is then read
// in one forward pass, and a hardlink comes after its target.
func treeOrder(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x == '/' {
			return -1
		}
		if y == '/' {
			return 1
		}
		return int(x) - int(y)
	}
	return len(a) - len(b)
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
		ord := e.ordinal
		if e.content >= 0 {
			ord = e.content
		}
		hdr, err := c.seek(ord)
		if err != nil {
			return 0, fmt.Errorf("squashing: reading %s from layer %s: %w", e.path, c.l.DiffID(), err)
		}
		if e.content >= 0 {
			// The file the hardlink named, under the link's name.
			h := *hdr
			h.Name = e.path
			hdr = &h
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
