package store

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// gcFixture records four outputs, each with its own 1000-byte layer, used
// an hour apart: "old" first, "new" last.
func gcFixture(t *testing.T) (*Store, *clock, map[string]digest.Digest) {
	t.Helper()
	c := newClock()
	s := openT(t, t.TempDir(), withClock(c.Now))
	layers := map[string]digest.Digest{}
	for _, name := range []string{"old", "mid", "recent", "new"} {
		l := addLayer(t, s, map[string]string{name: strings.Repeat(name[:1], 1000)})
		layers[name] = l
		if err := s.Record(drv(name), Output{Layers: []digest.Digest{l}}); err != nil {
			t.Fatal(err)
		}
		lf, _ := s.CreateLog(drv(name))
		lf.Commit()
		c.Advance(time.Hour)
	}
	return s, c, layers
}

func present(t *testing.T, s *Store, layers map[string]digest.Digest) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for name, l := range layers {
		ok, err := s.HasLayer(l)
		if err != nil {
			t.Fatal(err)
		}
		_, rec, _ := s.Lookup(drv(name))
		_, statErr := os.Stat(s.LayerPath(l))
		if ok != (statErr == nil) || ok != rec {
			t.Fatalf("%s: indexed %v, on disk %v, recorded %v", name, ok, statErr == nil, rec)
		}
		got[name] = ok
	}
	return got
}

func checkConsistent(t *testing.T, s *Store) {
	t.Helper()
	rep, err := s.Verify(false, rehash)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Consistent() || len(rep.Orphans) > 0 {
		t.Fatalf("store inconsistent after GC: %+v", rep)
	}
}

func TestGCRootsAlwaysKept(t *testing.T) {
	t.Parallel()
	s, _, layers := gcFixture(t)
	if err := s.AddRoot("target:old", drv("old")); err != nil {
		t.Fatal(err)
	}
	rep, err := s.GC(GCPolicy{All: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"old": true, "mid": false, "recent": false, "new": false}
	if got := present(t, s, layers); !mapsEqual(got, want) {
		t.Errorf("after GC all: %v, want %v", got, want)
	}
	if rep.Layers != 3 || rep.Derivations != 3 || rep.Logs != 3 || rep.BytesFreed < 3000 || rep.BytesKept != 1000 {
		t.Errorf("report = %+v", rep)
	}
	if _, err := os.Stat(s.LogPath(drv("old"))); err != nil {
		t.Errorf("the rooted derivation's log was removed: %v", err)
	}
	checkConsistent(t, s)
}

func TestGCRootFollowsRefs(t *testing.T) {
	t.Parallel()
	s, _, layers := gcFixture(t)
	app := addLayer(t, s, map[string]string{"app": "a"})
	if err := s.Record(drv("app"), Output{Layers: []digest.Digest{app}}, drv("mid")); err != nil {
		t.Fatal(err)
	}
	s.AddRoot("target:app", drv("app"))
	if _, err := s.GC(GCPolicy{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"old": false, "mid": true, "recent": false, "new": false}
	if got := present(t, s, layers); !mapsEqual(got, want) {
		t.Errorf("after GC: %v, want %v", got, want)
	}
	checkConsistent(t, s)
}

func TestGCKeepDuration(t *testing.T) {
	t.Parallel()
	s, c, layers := gcFixture(t)
	// Uses were at 0h (old), 1h, 2h, 3h (new); now is 5h. Using "old" again
	// makes it recent.
	c.Advance(time.Hour)
	if _, ok, _ := s.Lookup(drv("old")); !ok {
		t.Fatal("old not recorded")
	}
	c.Advance(time.Minute)
	if _, err := s.GC(GCPolicy{KeepDuration: 200 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"old": true, "mid": false, "recent": true, "new": true}
	if got := present(t, s, layers); !mapsEqual(got, want) {
		t.Errorf("after GC keep 3h20m: %v, want %v", got, want)
	}
	checkConsistent(t, s)
}

func TestGCKeepBytes(t *testing.T) {
	t.Parallel()
	s, _, layers := gcFixture(t)
	s.AddRoot("target:mid", drv("mid"))
	// 4000 bytes in all; 2500 allowed: the two least recently used
	// unrooted layers go ("old", then "recent"; "mid" is rooted).
	rep, err := s.GC(GCPolicy{KeepBytes: 2500})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"old": false, "mid": true, "recent": false, "new": true}
	if got := present(t, s, layers); !mapsEqual(got, want) {
		t.Errorf("after GC keep 2500 bytes: %v, want %v", got, want)
	}
	if rep.BytesKept != 2000 || rep.Layers != 2 {
		t.Errorf("report = %+v", rep)
	}
	// Within budget, nothing more goes.
	rep, err = s.GC(GCPolicy{KeepBytes: 2500})
	if err != nil || rep.Layers != 0 || rep.Derivations != 0 {
		t.Errorf("second GC = %+v, %v", rep, err)
	}
	// Roots win over the budget.
	if _, err := s.GC(GCPolicy{KeepBytes: 1}); err != nil {
		t.Fatal(err)
	}
	want = map[string]bool{"old": false, "mid": true, "recent": false, "new": false}
	if got := present(t, s, layers); !mapsEqual(got, want) {
		t.Errorf("after GC keep 1 byte: %v, want %v", got, want)
	}
	checkConsistent(t, s)
}

func TestGCRemovesOrphans(t *testing.T) {
	t.Parallel()
	s, _, _ := gcFixture(t)
	orphan := s.BlobPath(digest.FromString("orphan"))
	os.WriteFile(orphan, []byte("orphan"), 0o444)
	rep, err := s.GC(GCPolicy{KeepDuration: 100 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Orphans != 1 || rep.Layers != 0 {
		t.Errorf("report = %+v", rep)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Error("orphan blob survived GC")
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestGCKeepsBlobsOfRootedOutputs: an image source's config and original
// layer blobs are named by its output and must survive GC as long as it.
func TestGCKeepsBlobsOfRootedOutputs(t *testing.T) {
	s := openT(t, t.TempDir())
	l := addLayer(t, s, map[string]string{"f": "x"})
	cfg, orig := addBlob(t, s, "config"), addBlob(t, s, "original layer")
	loose := addBlob(t, s, "nobody's")
	if err := s.Record(drv("img"), Output{Layers: []digest.Digest{l}, Blobs: []digest.Digest{cfg, orig}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoot("r", drv("img")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(GCPolicy{All: true}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []digest.Digest{cfg, orig} {
		if ok, err := s.HasBlob(b); err != nil || !ok {
			t.Fatalf("blob %s of a rooted output was collected (%v)", b, err)
		}
	}
	if ok, _ := s.HasBlob(loose); ok {
		t.Fatal("an unreferenced blob survived GC --all")
	}
}
