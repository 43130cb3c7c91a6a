package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// writeGzipLayout writes an OCI image layout named ref "v1" at dir whose
// only layer is the gzip of tarBytes.
func writeGzipLayout(t *testing.T, dir string, tarBytes []byte) int {
	t.Helper()
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	put := func(b []byte) map[string]any {
		if err := os.WriteFile(filepath.Join(blobs, sum(b)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"digest": "sha256:" + sum(b), "size": len(b)}
	}
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBytes)
	zw.Close()
	layer := put(gz.Bytes())
	layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
	cfg := put(js(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + sum(tarBytes)}}}))
	cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
	man := put(js(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": cfg, "layers": []any{layer}}))
	man["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
	man["annotations"] = map[string]string{"org.opencontainers.image.ref.name": "v1"}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), js(map[string]any{"schemaVersion": 2, "manifests": []any{man}}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return gz.Len()
}

const bombHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "oci-layout" "bomb" {
  path = "layout"
  ref  = "v1"
  %s
}

stage "s" {
  from = source.oci-layout.bomb
}
`

// TestSourceSizeLimit: an image layer of a few KiB of gzip that unpacks
// to 64 MiB fails under max_size = "16m" with an error naming the source,
// the limit and how to raise it, and stores nothing. max_size is not
// hashed: raising it builds the same derivation, which then succeeds, and
// the default limit lets it through too.
func TestSourceSizeLimit(t *testing.T) {
	testutil.RequireRoot(t) // unpacking sets owners
	p := newProj(t, fmt.Sprintf(bombHCL, `max_size = "16m"`), "")
	n := writeGzipLayout(t, filepath.Join(p.dir, "layout"),
		testutil.Tar(t, testutil.TarEntry{Name: "zeros", Body: string(make([]byte, 64<<20))}))
	t.Logf("a %d-byte layer blob that unpacks to 64 MiB", n)
	p.ok("lock")
	plan := p.ok("plan", "stage.s")
	p.failsCleanly([]string{"source.oci-layout.bomb", "size limit of 16m (max_size)", "nothing was stored", `max_size = "32m"`},
		"build", "--progress", "plain", "stage.s")

	for _, attr := range []string{`max_size = "128m"`, ""} {
		if err := os.WriteFile(filepath.Join(p.dir, "build.hcl"), []byte(fmt.Sprintf(bombHCL, attr)), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := p.ok("plan", "stage.s"); got != plan {
			t.Errorf("with %q the plan changed:\n%s\nwas:\n%s", attr, got, plan)
		}
	}
	p.ok("build", "--progress", "plain", "stage.s")

	if err := os.WriteFile(filepath.Join(p.dir, "build.hcl"), []byte(fmt.Sprintf(bombHCL, `max_size = "lots"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, e, code := p.run("plan", "stage.s")
	if code == 0 || !strings.Contains(e, "max_size") || !strings.Contains(e, `"512m"`) {
		t.Errorf("a bad max_size: exit %d\n%s", code, e)
	}
}
