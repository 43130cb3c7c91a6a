package compress

import (
	"testing"

	"github.com/containerd/stargz-snapshotter/estargz"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestCompressors checks the registry: each compression once, parseable,
// streaming or rewriting, and matching the blobs it writes.
func TestCompressors(t *testing.T) {
	seen := map[Type]bool{}
	for _, c := range compressors {
		typ := c.Type()
		if seen[typ] {
			t.Errorf("%s is listed twice", typ)
		}
		seen[typ] = true
		if got, err := ParseType(string(typ)); err != nil || got != typ {
			t.Errorf("ParseType(%q) = %q, %v", typ, got, err)
		}
		_, s := c.(Streamer)
		_, r := c.(Rewriter)
		if s == r {
			t.Errorf("%s must stream or rewrite, not both or neither", typ)
		}
		if _, err := c.Level(0); err != nil {
			t.Errorf("%s: default level: %v", typ, err)
		}
	}
	toc := map[string]string{estargz.TOCJSONDigestAnnotation: "sha256:0"}
	for _, tc := range []struct {
		typ  Type
		mt   string
		ann  map[string]string
		want bool
	}{
		{Gzip, ocispec.MediaTypeImageLayerGzip, nil, true},
		{Gzip, ocispec.MediaTypeImageLayerGzip, toc, false},
		{Estargz, ocispec.MediaTypeImageLayerGzip, toc, true},
		{Estargz, ocispec.MediaTypeImageLayerGzip, nil, false},
		{Zstd, ocispec.MediaTypeImageLayerZstd, nil, true},
		{Zstd, ocispec.MediaTypeImageLayerGzip, nil, false},
		{Uncompressed, ocispec.MediaTypeImageLayer, nil, true},
	} {
		c, _ := Lookup(tc.typ)
		if got := c.Matches(tc.mt, tc.ann); got != tc.want {
			t.Errorf("%s matches %s %v = %v, want %v", tc.typ, tc.mt, tc.ann, got, tc.want)
		}
	}
}
