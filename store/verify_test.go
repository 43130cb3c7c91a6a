package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestVerifyDetectsAndRepairs(t *testing.T) {
	t.Parallel()
	s := openT(t, t.TempDir())
	good := addLayer(t, s, map[string]string{"good": "1"})
	gone := addLayer(t, s, map[string]string{"gone": "2"})
	tampered := addLayer(t, s, map[string]string{"tampered": "3"})
	blob := addBlob(t, s, "blob content")
	okBlob := addBlob(t, s, "fine")
	s.Record(drv("good"), Output{Layers: []digest.Digest{good}, Blobs: []digest.Digest{okBlob}})
	s.Record(drv("uses-gone"), Output{Layers: []digest.Digest{good, gone}})
	s.Record(drv("uses-blob"), Output{Blobs: []digest.Digest{blob}})
	s.Record(drv("uses-tampered"), Output{Layers: []digest.Digest{tampered}})
	s.Record(drv("refs-blob-user"), Output{}, drv("uses-blob"))

	rep, err := s.Verify(false, rehash)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Consistent() || rep.Layers != 3 || rep.Blobs != 2 || rep.Derivations != 5 {
		t.Fatalf("clean store: %+v", rep)
	}

	// Damage: a missing layer, a corrupted blob (made writable the way a
	// careless user would), a file changed in a layer, an orphan, a stale
	// temp dir.
	if err := removeTree(s.LayerPath(gone)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(s.BlobPath(blob), 0o644)
	os.WriteFile(s.BlobPath(blob), []byte("blob c0ntent"), 0o644)
	os.WriteFile(filepath.Join(s.LayerPath(tampered), "tampered"), []byte("4"), 0o644)
	orphan := filepath.Join(s.Root(), "layers", strings.Repeat("ab", 32))
	os.Mkdir(orphan, 0o755)
	stale := filepath.Join(s.Root(), "tmp", "layer-crashed")
	os.Mkdir(stale, 0o755)
	mine, _ := s.TempDir("in-use-")

	rep, err = s.Verify(false, rehash)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Consistent() {
		t.Fatal("Verify found a damaged store consistent")
	}
	problems := map[digest.Digest]string{}
	for _, p := range rep.Problems {
		problems[p.Digest] = p.What
	}
	for d, want := range map[digest.Digest]string{
		gone:                  "missing",
		blob:                  "hashes to " + string(digest.FromString("blob c0ntent")),
		tampered:              "hashes to",
		drv("uses-gone"):      "layer " + string(gone),
		drv("uses-blob"):      "damaged",
		drv("uses-tampered"):  "damaged",
		drv("refs-blob-user"): "references derivation " + string(drv("uses-blob")),
	} {
		if !strings.Contains(problems[d], want) {
			t.Errorf("problem for %s = %q, want it to contain %q", d, problems[d], want)
		}
	}
	if len(rep.Problems) != 7 {
		t.Errorf("%d problems, want 7: %v", len(rep.Problems), rep.Problems)
	}
	if len(rep.Orphans) != 1 || rep.Orphans[0] != orphan {
		t.Errorf("orphans = %v", rep.Orphans)
	}
	if len(rep.Stale) != 1 || rep.Stale[0] != stale {
		t.Errorf("stale = %v (the temp dir in use must not count)", rep.Stale)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Error("Verify without repair removed an orphan")
	}

	rep, err = s.Verify(true, rehash)
	if err != nil || !rep.Repaired {
		t.Fatalf("repair = %+v, %v", rep, err)
	}
	rep, err = s.Verify(false, rehash)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Consistent() || len(rep.Orphans)+len(rep.Stale) != 0 {
		t.Fatalf("after repair: %+v", rep)
	}
	if rep.Derivations != 1 || rep.Layers != 1 || rep.Blobs != 1 {
		t.Errorf("after repair %d derivations, %d layers, %d blobs; want the good ones only", rep.Derivations, rep.Layers, rep.Blobs)
	}
	if _, err := os.Stat(s.LayerPath(tampered)); !os.IsNotExist(err) {
		t.Error("repair left the corrupt layer in place")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Error("repair removed a temp dir in use")
	}
	// What was lost can be added again.
	if got := addLayer(t, s, map[string]string{"gone": "2"}); got != gone {
		t.Fatal("digest changed")
	}
	checkReadable(t, s)
}

// A GC root whose value cannot be decoded is a problem Verify reports and
// repairs; GC refuses to run past it, since it cannot know what it keeps.
func TestVerifyRepairsUnreadableRoot(t *testing.T) {
	t.Parallel()
	s := openT(t, t.TempDir())
	l := addLayer(t, s, map[string]string{"f": "1"})
	if err := s.Record(drv("kept"), Output{Layers: []digest.Digest{l}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoot("good", drv("kept")); err != nil {
		t.Fatal(err)
	}
	k, _ := rootKey("broken")
	if err := s.write(batch{Set: []entry{{k, []byte("short")}}}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(false, rehash)
	if err != nil {
		t.Fatalf("Verify failed on an unreadable root instead of reporting it: %v", err)
	}
	if rep.Consistent() || len(rep.Problems) != 1 || rep.Problems[0].Kind != "index" {
		t.Fatalf("problems = %v, want one unreadable index entry", rep.Problems)
	}
	if _, err := s.GC(GCPolicy{All: true}); err == nil || !strings.Contains(err.Error(), "verify --repair") {
		t.Fatalf("GC with an unreadable root = %v, want an error naming verify --repair", err)
	}
	if ok, _ := s.HasLayer(l); !ok {
		t.Fatal("the refused GC removed a layer")
	}
	if rep, err := s.Verify(true, rehash); err != nil || !rep.Repaired {
		t.Fatalf("repair = %+v, %v", rep, err)
	}
	roots, err := s.Roots()
	if err != nil || len(roots) != 1 || len(roots["good"]) != 1 {
		t.Fatalf("roots after repair = %v, %v", roots, err)
	}
	if _, err := s.GC(GCPolicy{All: true}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasLayer(l); !ok {
		t.Error("GC removed a layer the good root keeps")
	}
}
