package targets

import (
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

// storeLayer is a store layer as the exporters see it: its diff_id and its
// canonical tar, written on demand.
type storeLayer struct {
	st *store.Store
	d  digest.Digest
}

var _ export.FileLayer = storeLayer{}

func (l storeLayer) DiffID() digest.Digest { return l.d }
func (l storeLayer) Size() int64           { return -1 }
func (l storeLayer) Open() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(layer.WriteTar(pw, l.st.LayerPath(l.d))) }()
	return pr, nil
}

// TarSize and WriteTarFile make it an export.FileLayer: an uncompressed
// export writes its tar straight into the output.
func (l storeLayer) TarSize() (int64, error) { return layer.TarSize(l.st.LayerPath(l.d)) }

func (l storeLayer) WriteTarFile(f *os.File) (digest.Digest, int64, error) {
	return layer.WriteTarFile(f, l.st.LayerPath(l.d))
}

// baseLayer is a base image's layer as the image ships it: its diff_id is
// the image's own and its tar is the original blob, decompressed. So the
// base config's diff_ids hold even when kiln's canonical tar of the same
// files differs, and force-compression recompresses the base's own bytes.
type baseLayer struct {
	st     *store.Store
	diffID digest.Digest
	blob   digest.Digest
}

var _ export.Layer = baseLayer{}

func (l baseLayer) DiffID() digest.Digest { return l.diffID }
func (l baseLayer) Size() int64           { return -1 }
func (l baseLayer) Open() (io.ReadCloser, error) {
	f, err := os.Open(l.st.BlobPath(l.blob))
	if err != nil {
		return nil, fmt.Errorf("opening base layer blob: %w", err)
	}
	dr, err := layer.Decompress(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{dr, closers{dr, f}}, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
