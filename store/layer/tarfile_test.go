package layer

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/internal/testutil"
)

// writeFile writes dir's tar with WriteTarFile and returns its bytes.
func writeFile(t *testing.T, dir string) ([]byte, digest.Digest, int64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "layer.tar")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d, n, err := WriteTarFile(f, dir)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, d, n
}

// WriteTarFile writes WriteTar's bytes, of the size TarSize says before,
// and returns their digest.
func TestWriteTarFileIsWriteTar(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	makeTree(t, dir, fixture, seq(len(fixture)), 0o022)
	// Contents across and off block and copy-buffer boundaries.
	for name, n := range map[string]int{"big": 3<<20 + 7, "block": 512, "odd": 513, "empty": 0} {
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte(name[:1]), n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// More header bytes than headChunk, in parts of their own.
	for i := range 2100 {
		if err := os.Symlink("x", filepath.Join(dir, "l"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	want := tarBytes(t, dir)
	planned, err := TarSize(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, d, size := writeFile(t, dir)
	if !bytes.Equal(got, want) {
		t.Fatalf("WriteTarFile's tar differs from WriteTar's (%d against %d bytes):\n%s", len(got), len(want), cmp.Diff(listTar(t, want), listTar(t, got)))
	}
	if size != int64(len(want)) || planned != size {
		t.Errorf("size %d, TarSize %d, tar has %d bytes", size, planned, len(want))
	}
	if wd := digest.NewDigestFromBytes(digest.SHA256, sum(want)); d != wd {
		t.Errorf("digest %s, want %s", d, wd)
	}
	hd, hn, err := Hash(dir)
	if err != nil || hd != d || hn != size {
		t.Errorf("Hash says %s %d (%v), the plan %s %d", hd, hn, err, d, size)
	}
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// A file that shrinks between the walk's stat and its copy fails the
// write; a missing tree fails it at once.
func TestWriteTarFileFails(t *testing.T) {
	var buf bytes.Buffer
	p := tarPart{path: filepath.Join(t.TempDir(), "f"), size: 10}
	if err := os.WriteFile(p.path, []byte("01"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := writePart(f, p); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Errorf("writePart: error %v, want one saying the file shrank", err)
	}
	if err := hashPart(&buf, p, make([]byte, 4)); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Errorf("hashPart: error %v, want one saying the file shrank", err)
	}
	if _, _, err := WriteTarFile(f, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("WriteTarFile of a missing tree succeeded")
	}
	// An output that cannot be written stops the walk of a big tree.
	tree := t.TempDir()
	for i := range 500 {
		if err := os.WriteFile(filepath.Join(tree, strconv.Itoa(i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ro, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, _, err := WriteTarFile(ro, tree); err == nil {
		t.Error("WriteTarFile into a read-only file succeeded")
	}
}
