package layer

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/internal/testutil"
)

// writePlan writes dir's planned tar into a new file and returns its bytes.
func writePlan(t *testing.T, dir string) ([]byte, digest.Digest, int64) {
	t.Helper()
	p, err := PlanTar(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "layer.tar")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.WriteFile(f)
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
	return b, d, p.Size()
}

// The planned tar is WriteTar's, byte for byte, its size known before it
// is written and its digest the layer's.
func TestPlanTarIsWriteTar(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	makeTree(t, dir, fixture, seq(len(fixture)), 0o022)
	// Contents across and off block and copy-buffer boundaries.
	for name, n := range map[string]int{"big": 3<<20 + 7, "block": 512, "odd": 513, "empty": 0} {
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte(name[:1]), n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := tarBytes(t, dir)
	got, d, size := writePlan(t, dir)
	if !bytes.Equal(got, want) {
		t.Fatalf("planned tar differs from WriteTar's (%d against %d bytes):\n%s", len(got), len(want), cmp.Diff(listTar(t, want), listTar(t, got)))
	}
	if size != int64(len(want)) {
		t.Errorf("planned size %d, tar has %d bytes", size, len(want))
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

// A file that shrinks between plan and write fails the write.
func TestPlanTarShrunk(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := PlanTar(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("01"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := p.WriteFile(f); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("error %v, want one saying the file shrank", err)
	}
}
