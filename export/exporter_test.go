package export

import (
	"testing"
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
