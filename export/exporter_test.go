package export

import (
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestExporters checks the registry: each type once, each an image or a
// files exporter, and every key it takes parsed by outputKeys.
func TestExporters(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range exporters {
		typ := e.Type()
		if seen[typ] {
			t.Errorf("type=%s is listed twice", typ)
		}
		seen[typ] = true
		_, img := e.(ImageExporter)
		_, files := e.(FilesExporter)
		if img == files {
			t.Errorf("type=%s must export images or files, not both or neither", typ)
		}
		if ExportsImages(typ) != img {
			t.Errorf("ExportsImages(%q) = %v", typ, !img)
		}
		for _, k := range e.Keys() {
			if outputKeys[k] == nil {
				t.Errorf("type=%s takes key %q, which has no parser", typ, k)
			}
		}
	}
	if got, want := ImageTypes("type="), "type=oci, type=docker or type=registry"; got != want {
		t.Errorf("ImageTypes = %q, want %q", got, want)
	}
	if got, want := FilesTypes(""), "local or tar"; got != want {
		t.Errorf("FilesTypes = %q, want %q", got, want)
	}
}

func TestAssembleOptionsByType(t *testing.T) {
	for typ, docker := range map[string]bool{"oci": false, "docker": true, "registry": false, "local": false, "tar": false} {
		o := Output{Type: typ, Compression: "zstd", CompressionLevel: 5}
		got := o.AssembleOptions()
		if got.DockerMediaTypes != docker || got.Compression != o.LayerCompression() {
			t.Errorf("type=%s: %+v", typ, got)
		}
	}
}

// TestDefaultPathEnv: an image whose base sets no PATH gets the default
// one, as BuildKit gives every stage; a base's PATH and the block's env win.
func TestDefaultPathEnv(t *testing.T) {
	for _, tc := range []struct {
		base []string
		env  map[string]string
		want []string
	}{
		{nil, nil, []string{"PATH=" + DefaultPath}},
		{[]string{"A=1"}, map[string]string{"B": "2"}, []string{"A=1", "PATH=" + DefaultPath, "B=2"}},
		{[]string{"PATH=/bin"}, nil, []string{"PATH=/bin"}},
		{nil, map[string]string{"PATH": "/opt"}, []string{"PATH=/opt"}},
	} {
		c := ocispec.ImageConfig{Env: slices.Clone(tc.base)}
		defaultPath(&c)
		applySpec(&c, ImageSpec{Env: tc.env})
		if !slices.Equal(c.Env, tc.want) {
			t.Errorf("base %q, env %v: %q, want %q", tc.base, tc.env, c.Env, tc.want)
		}
	}
}
