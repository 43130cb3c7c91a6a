package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/testutil"
)

// storeObjects lists the layers and blobs of a store, to show that a
// failed build added none.
func storeObjects(t *testing.T, store string) []string {
	t.Helper()
	var names []string
	for _, d := range []string{"layers", "blobs"} {
		// No store, or a file in its place, holds no objects.
		ents, _ := os.ReadDir(filepath.Join(store, d))
		for _, e := range ents {
			names = append(names, d+"/"+e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// failsCleanly runs a build that must fail with exit 1 and the given
// phrases on stderr, and checks that it added nothing to the store and
// left it consistent.
func (p *proj) failsCleanly(want []string, args ...string) string {
	p.t.Helper()
	before := storeObjects(p.t, p.store)
	_, e, code := p.run(args...)
	if code != 1 {
		p.t.Fatalf("kiln %s: exit %d, want 1\n%s", strings.Join(args, " "), code, e)
	}
	if strings.Contains(e, "panic") || strings.Contains(e, "goroutine ") {
		p.t.Fatalf("kiln panicked:\n%s", e)
	}
	p.t.Logf("kiln %s (exit 1):\n%s", strings.Join(args, " "), e)
	for _, w := range want {
		if !strings.Contains(e, w) {
			p.t.Errorf("stderr does not say %q:\n%s", w, e)
		}
	}
	if after := storeObjects(p.t, p.store); strings.Join(after, "\n") != strings.Join(before, "\n") {
		p.t.Errorf("the failed build stored objects:\nbefore %v\nafter  %v", before, after)
	}
	if fi, err := os.Stat(p.store); err == nil && fi.IsDir() {
		p.verifyStore()
		if ents, _ := os.ReadDir(filepath.Join(p.store, "tmp")); len(ents) > 0 {
			p.t.Errorf("the failed build left %d temporary entries", len(ents))
		}
	}
	return e
}

const httpHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "http" "tool" {
  url      = "%s/tool.bin"
  filename = "tool.bin"
}

stage "s" {
  from = source.http.tool
}
`

// TestBadHTTPSource: a download whose content no longer matches the pin
// in the lock is an error naming both hashes, and nothing is stored; a
// source with no pin is an error that says to run kiln lock.
func TestBadHTTPSource(t *testing.T) {
	var mu sync.Mutex
	body := []byte("tool v1\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(body)
	}))
	defer srv.Close()
	p := newProj(t, fmt.Sprintf(httpHCL, srv.URL), "")

	p.failsCleanly([]string{"source.http.tool", "not pinned in build.lock.hcl", "kiln lock"}, "build", "stage.s")

	p.ok("lock")
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	pinned := sum(body)
	lock, err := os.ReadFile(filepath.Join(p.dir, "build.lock.hcl"))
	if err != nil || !strings.Contains(string(lock), pinned) {
		t.Fatalf("build.lock.hcl does not pin %s: %v\n%s", pinned, err, lock)
	}
	mu.Lock()
	body = []byte("tool v2, changed on the server\n")
	mu.Unlock()
	p.failsCleanly([]string{pinned, sum(body)}, "build", "--progress", "plain", "stage.s")
}

type tarEntry struct {
	name, link string
	typ        byte
	body       string
}

// writeLayout writes an OCI image layout named ref "v1" at dir whose only
// layer is an uncompressed tar of entries, as a hostile image would be.
func writeLayout(t *testing.T, dir string, entries []tarEntry) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) (string, int) {
		s := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(s[:])
		if err := os.WriteFile(filepath.Join(blobs, hex.EncodeToString(s[:])), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d, len(b)
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	layer, layerSize := put(buf.Bytes())
	cfg, cfgSize := put(mustJSON(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer}},
	}))
	man, manSize := put(mustJSON(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": cfgSize},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layerSize}},
	}))
	index := mustJSON(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man, "size": manSize,
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "v1"},
		}},
	})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
}

const ociHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "oci-layout" "base" {
  path = "layout"
  ref  = "v1"
}

stage "s" {
  from = source.oci-layout.base
}
`

// TestBadOCILayoutSource: an image whose layer tar climbs out with "../"
// or writes through a symlink pointing outside is refused naming the
// entry; nothing lands outside the layer and nothing is stored.
func TestBadOCILayoutSource(t *testing.T) {
	testutil.RequireRoot(t) // unpacking sets owners
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		want    []string
	}{
		{"dotdot", []tarEntry{
			{name: "etc/", typ: tar.TypeDir},
			{name: "../../../../../../../.." + outside + "/pwned", typ: tar.TypeReg, body: "x"},
		}, []string{"source.oci-layout.base", `".." components are not allowed`}},
		{"dotdot-hardlink", []tarEntry{
			{name: "etc/passwd", typ: tar.TypeLink, link: "../../../../../../../../etc/passwd"},
		}, []string{"source.oci-layout.base", `".." components are not allowed`}},
		{"absolute-symlink", []tarEntry{
			{name: "escape", typ: tar.TypeSymlink, link: outside},
			{name: "escape/pwned", typ: tar.TypeReg, body: "x"},
		}, []string{"source.oci-layout.base", `"escape/pwned"`, "symlink"}},
		{"relative-symlink", []tarEntry{
			{name: "a/", typ: tar.TypeDir},
			{name: "a/up", typ: tar.TypeSymlink, link: "../../../../../../../.." + outside},
			{name: "a/up/pwned", typ: tar.TypeReg, body: "x"},
		}, []string{"source.oci-layout.base", `"a/up/pwned"`, "symlink"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProj(t, ociHCL, "")
			writeLayout(t, filepath.Join(p.dir, "layout"), tc.entries)
			p.ok("lock")
			p.failsCleanly(tc.want, "build", "--progress", "plain", "stage.s")
			if _, err := os.Lstat(filepath.Join(outside, "pwned")); err == nil {
				t.Fatalf("the layer wrote %s/pwned", outside)
			}
		})
	}
}

const storeHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

variable "WORD" {
  type    = string
  default = "hi"
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "s" {
  from = source.local.busybox
  run {
    shell = "echo ${var.WORD} > /word"
  }
}
`

// TestUnwritableStore: a store path that is a file, and a store on a
// read-only mount, are errors that say what to do, with exit 1.
func TestUnwritableStore(t *testing.T) {
	testutil.RequireRoot(t) // the read-only mount
	p := newProj(t, storeHCL, "")
	file := filepath.Join(p.dir, "file")
	if err := os.WriteFile(file, []byte("not a store\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, store := range []string{file, filepath.Join(file, "store")} {
		q := &proj{t: t, dir: p.dir, store: store}
		q.failsCleanly([]string{"store root is not writable: " + store, "not a directory", "--store"}, "build", "stage.s")
	}

	// A store that was built into, then mounted read-only: what is cached
	// still needs the store's lock and index, and a new step cannot be
	// stored.
	p.ok("build", "--progress", "quiet", "stage.s")
	if err := unix.Mount(p.store, p.store, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(p.store, unix.MNT_DETACH) })
	if err := unix.Mount("", p.store, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	before := storeObjects(t, p.store)
	_, e, code := p.run("build", "--progress", "plain", "--var", "WORD=ho", "stage.s")
	t.Logf("kiln build on a read-only store (exit %d):\n%s", code, e)
	if code != 1 || !strings.Contains(e, "store root is not writable: "+p.store) || !strings.Contains(e, "read-only file system") || !strings.Contains(e, "--store") {
		t.Errorf("kiln build on a read-only store: exit %d, want 1 and an error that says what to do:\n%s", code, e)
	}
	if after := storeObjects(t, p.store); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("objects changed on a read-only store: %v -> %v", before, after)
	}
}
