package store

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

func TestRecordLookupRoundTrip(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := openT(t, root)
	l1 := addLayer(t, s, map[string]string{"etc/os-release": "kiln"})
	l2 := addLayer(t, s, map[string]string{"bin/app": "binary"})
	b := addBlob(t, s, "config")
	if err := s.Record(drv("base"), Output{Layers: []digest.Digest{l1}}); err != nil {
		t.Fatal(err)
	}
	want := Output{
		Layers:     []digest.Digest{l1, l2},
		Blobs:      []digest.Digest{b},
		Meta:       map[string]string{"config": string(b), "z": ""},
		Built:      time.Unix(1700000000, 123),
		DurationMS: 4321,
	}
	if err := s.Record(drv("app"), want, drv("base")); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Lookup(drv("app"))
	if err != nil || !ok {
		t.Fatalf("Lookup = %v, %v", ok, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
	if _, ok, err := s.Lookup(drv("nope")); ok || err != nil {
		t.Errorf("Lookup of unrecorded = %v, %v", ok, err)
	}
	many, err := s.LookupMany([]digest.Digest{drv("app"), drv("nope"), drv("base")})
	if err != nil {
		t.Fatal(err)
	}
	if len(many) != 2 || many[drv("base")].Layers[0] != l1 {
		t.Errorf("LookupMany = %v", many)
	}

	// The record survives a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, root)
	got, ok, err = s.Lookup(drv("app"))
	if err != nil || !ok {
		t.Fatalf("Lookup after reopen = %v, %v", ok, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lookup after reopen (-want +got):\n%s", diff)
	}
}

func TestRecordRequiresObjects(t *testing.T) {
	t.Parallel()
	s := openT(t, t.TempDir())
	missing := digest.FromString("missing")
	l := addLayer(t, s, map[string]string{"f": "x"})
	for _, tc := range []struct {
		name string
		out  Output
		refs []digest.Digest
		want string
	}{
		{"layer", Output{Layers: []digest.Digest{l, missing}}, nil, "layer " + string(missing) + " is not in the store"},
		{"blob", Output{Blobs: []digest.Digest{missing}}, nil, "blob " + string(missing) + " is not in the store"},
		{"ref", Output{}, []digest.Digest{missing}, "referenced derivation " + string(missing)},
		{"bad digest", Output{Layers: []digest.Digest{"sha256:../../etc"}}, nil, "invalid"},
	} {
		err := s.Record(drv(tc.name), tc.out, tc.refs...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Record = %v, want error containing %q", tc.name, err, tc.want)
		}
		if _, ok, _ := s.Lookup(drv(tc.name)); ok {
			t.Errorf("%s: a failed Record stored something", tc.name)
		}
	}
}

func TestAddBlob(t *testing.T) {
	t.Parallel()
	s := openT(t, t.TempDir())
	content := "hello blob"
	want := digest.FromString(content)
	d, n, err := s.AddBlob(strings.NewReader(content), want)
	if err != nil || d != want || n != int64(len(content)) {
		t.Fatalf("AddBlob = %s, %d, %v", d, n, err)
	}
	if b, err := os.ReadFile(s.BlobPath(d)); err != nil || string(b) != content {
		t.Fatalf("blob file = %q, %v", b, err)
	}
	if info, _ := os.Stat(s.BlobPath(d)); info.Mode().Perm() != 0o444 {
		t.Errorf("blob mode = %v, want read-only", info.Mode())
	}
	// Adding it again is a no-op.
	if d2, _, err := s.AddBlob(strings.NewReader(content), ""); err != nil || d2 != d {
		t.Fatalf("second AddBlob = %s, %v", d2, err)
	}

	// A mismatch names both digests and stores nothing.
	wrong := digest.FromString("something else")
	_, _, err = s.AddBlob(strings.NewReader("other content"), wrong)
	if err == nil || !strings.Contains(err.Error(), string(wrong)) || !strings.Contains(err.Error(), string(digest.FromString("other content"))) {
		t.Fatalf("mismatch error = %v, want both digests", err)
	}
	if ok, _ := s.HasBlob(digest.FromString("other content")); ok {
		t.Error("a mismatched blob was indexed")
	}
	for _, dir := range []string{"blobs", "tmp"} {
		ents, _ := os.ReadDir(filepath.Join(s.Root(), dir))
		if dir == "blobs" && len(ents) != 1 || dir == "tmp" && len(ents) != 0 {
			t.Errorf("%s holds %d entries after a mismatch", dir, len(ents))
		}
	}
	if _, _, err := s.AddBlob(strings.NewReader("x"), "md5:abc"); err == nil {
		t.Error("AddBlob accepted a non-sha256 expected digest")
	}
}

func TestAddLayer(t *testing.T) {
	t.Parallel()
	s := openT(t, t.TempDir())
	files := map[string]string{"usr/bin/tool": "#!/bin/sh\n", "etc/conf": "x=1"}
	d := addLayer(t, s, files)
	if ok, err := s.HasLayer(d); !ok || err != nil {
		t.Fatalf("HasLayer = %v, %v", ok, err)
	}
	if got, err := treeDigest(s.LayerPath(d)); err != nil || got != d {
		t.Fatalf("layer tree hashes to %s (%v), want %s", got, err, d)
	}
	// The same layer again: the new temp dir is dropped, nothing changes.
	again := addLayer(t, s, files)
	if again != d {
		t.Fatalf("digest changed: %s vs %s", again, d)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(ents) != 0 {
		t.Errorf("tmp holds %d entries after a duplicate add", len(ents))
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "layers")); len(ents) != 1 {
		t.Errorf("layers holds %d entries, want 1", len(ents))
	}
	// A directory outside the store's tmp is refused (it may be on another
	// filesystem, and must not be moved from under its owner).
	outside := t.TempDir()
	if err := s.AddLayer(outside, digest.FromString("x"), LayerInfo{}); err == nil {
		t.Error("AddLayer accepted a directory outside the store")
	}
	if p := s.LayerPath("sha256:../../../etc"); p != "" {
		t.Errorf("LayerPath of an invalid digest = %q, want empty", p)
	}
}

func TestAddLayerAdoptsUnindexedTree(t *testing.T) {
	t.Parallel()
	// What a crash between rename and index leaves: the tree in place,
	// no entry. The next add of the same layer indexes it.
	s := openT(t, t.TempDir())
	files := map[string]string{"f": "content"}
	dir, _ := s.TempDir("layer-")
	os.WriteFile(filepath.Join(dir, "f"), []byte("content"), 0o644)
	d, _ := treeDigest(dir)
	if err := os.Rename(dir, s.LayerPath(d)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasLayer(d); ok {
		t.Fatal("unindexed layer reported present")
	}
	if got := addLayer(t, s, files); got != d {
		t.Fatalf("digest %s, want %s", got, d)
	}
	if ok, _ := s.HasLayer(d); !ok {
		t.Fatal("layer not adopted")
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(ents) != 0 {
		t.Errorf("tmp holds %d entries", len(ents))
	}
}

func TestOpenCleansStaleTemp(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := openT(t, root)
	dir, err := s.TempDir("work-")
	if err != nil {
		t.Fatal(err)
	}
	// A read-only tree, as a crashed build may leave.
	os.MkdirAll(filepath.Join(dir, "ro", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "ro", "sub", "f"), nil, 0o444)
	os.Chmod(filepath.Join(dir, "ro", "sub"), 0o555)
	os.Chmod(filepath.Join(dir, "ro"), 0o555)
	s.Close()
	s = openT(t, root)
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Errorf("tmp holds %d entries after reopen", len(ents))
	}
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := openT(t, root)
	if err := s.write(batch{Set: []entry{{schemaKey, []byte(strconv.Itoa(SchemaVersion + 1))}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(root)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open of a newer store = %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{root, "schema version " + strconv.Itoa(SchemaVersion+1), "upgrade kiln", "--store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// A refused Open releases the lock: the store can be opened again (and
	// refused again) rather than hanging.
	if _, err := Open(root); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("second Open = %v", err)
	}
}

func TestUnwritableRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// Root ignores permission bits; a read-only mount stops it.
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_RDONLY, "size=1m"); err != nil {
			t.Skipf("cannot mount a read-only tmpfs: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	} else {
		os.Chmod(dir, 0o555)
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
	}
	root := filepath.Join(dir, "store")
	_, err := Open(root)
	if !errors.Is(err, ErrNotWritable) {
		t.Fatalf("Open = %v, want ErrNotWritable", err)
	}
	for _, want := range []string{root, "--store", "KILN_STORE", "permissions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if _, err := Open(root, WithReadOnly()); !errors.Is(err, ErrNoStore) {
		t.Fatalf("read-only Open of an empty dir = %v, want ErrNoStore", err)
	}
	s := openT(t, root)
	l := addLayer(t, s, map[string]string{"f": "x"})
	if err := s.Record(drv("a"), Output{Layers: []digest.Digest{l}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := openT(t, root, WithReadOnly())
	if out, ok, err := r.Lookup(drv("a")); err != nil || !ok || out.Layers[0] != l {
		t.Fatalf("read-only Lookup = %v, %v, %v", out, ok, err)
	}
	if ents, err := r.List("layers"); err != nil || len(ents) != 1 {
		t.Fatalf("read-only List = %v, %v", ents, err)
	}
	if _, _, err := r.AddBlob(strings.NewReader("x"), ""); err == nil {
		t.Error("read-only AddBlob succeeded")
	}
	if _, err := r.GC(GCPolicy{All: true}); err == nil {
		t.Error("read-only GC succeeded")
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	s := openT(t, t.TempDir())
	d := drv("step")
	lf, err := s.CreateLog(d)
	if err != nil {
		t.Fatal(err)
	}
	lf.Write([]byte("line 1\n"))
	if _, err := os.Stat(s.LogPath(d)); !os.IsNotExist(err) {
		t.Fatal("log visible before Commit")
	}
	if err := lf.Commit(); err != nil {
		t.Fatal(err)
	}
	lf.Abort() // no-op after Commit
	if b, err := os.ReadFile(s.LogPath(d)); err != nil || string(b) != "line 1\n" {
		t.Fatalf("log = %q, %v", b, err)
	}
	// A retry replaces the log whole; an aborted one leaves nothing.
	lf, _ = s.CreateLog(d)
	lf.Write([]byte("retry\n"))
	lf.Commit()
	if b, _ := os.ReadFile(s.LogPath(d)); string(b) != "retry\n" {
		t.Fatalf("log after retry = %q", b)
	}
	lf, _ = s.CreateLog(drv("cancelled"))
	lf.Write([]byte("partial"))
	lf.Abort()
	if _, err := os.Stat(s.LogPath(drv("cancelled"))); !os.IsNotExist(err) {
		t.Error("aborted log exists")
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(ents) != 0 {
		t.Errorf("tmp holds %d entries", len(ents))
	}
}

func TestMetaAndRoots(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := openT(t, root)
	if _, ok, err := s.GetMeta("compress", "k"); ok || err != nil {
		t.Fatalf("GetMeta of unset = %v, %v", ok, err)
	}
	if err := s.PutMeta("compress", "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	s.PutMeta("other", "k", []byte("v2"))
	if v, ok, _ := s.GetMeta("compress", "k"); !ok || string(v) != "v1" {
		t.Errorf("GetMeta = %q, %v", v, ok)
	}
	if err := s.PutMeta("", "k", nil); err == nil {
		t.Error("PutMeta accepted an empty namespace")
	}

	s.AddRoot("target:a", drv("1"), drv("2"))
	s.AddRoot("target:b", drv("3"))
	s.AddRoot("target:a", drv("4")) // replaces
	s.Close()
	s = openT(t, root)
	roots, err := s.Roots()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]digest.Digest{"target:a": {drv("4")}, "target:b": {drv("3")}}
	if diff := cmp.Diff(want, roots); diff != "" {
		t.Errorf("Roots (-want +got):\n%s", diff)
	}
	s.RemoveRoot("target:b")
	if roots, _ := s.Roots(); len(roots) != 1 {
		t.Errorf("after RemoveRoot: %v", roots)
	}
}

func TestUsageAndList(t *testing.T) {
	t.Parallel()
	s := openT(t, t.TempDir())
	l := addLayer(t, s, map[string]string{"f": "12345"})
	b := addBlob(t, s, "abc")
	s.Record(drv("x"), Output{Layers: []digest.Digest{l}, Blobs: []digest.Digest{b}})
	s.AddRoot("target:x", drv("x"))
	lf, _ := s.CreateLog(drv("x"))
	lf.Write([]byte("log"))
	lf.Commit()
	u, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.Derivations.Count != 1 || u.Layers != (KindUsage{1, 5}) || u.Blobs != (KindUsage{1, 3}) || u.Logs != (KindUsage{1, 3}) || u.IndexBytes == 0 {
		t.Errorf("Usage = %+v", u)
	}
	ents, err := s.List("")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3 {
		t.Fatalf("List = %+v", ents)
	}
	for _, e := range ents {
		if len(e.Roots) != 1 || e.Roots[0] != "target:x" {
			t.Errorf("%s %s: roots %v", e.Kind, e.Digest, e.Roots)
		}
	}
	if ents[1].Kind != KindDerivation || ents[1].Size != 8 {
		t.Errorf("derivation entry = %+v", ents[1])
	}
	if _, err := s.List("widgets"); err == nil {
		t.Error("List accepted an unknown kind")
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Setenv("KILN_STORE", "/custom/store")
	if got := DefaultRoot(); got != "/custom/store" {
		t.Errorf("with KILN_STORE: %s", got)
	}
	t.Setenv("KILN_STORE", "")
	t.Setenv("XDG_DATA_HOME", "/xdg")
	want := "/xdg/kiln"
	if os.Geteuid() == 0 {
		want = "/var/lib/kiln"
	}
	if got := DefaultRoot(); got != want {
		t.Errorf("DefaultRoot = %s, want %s", got, want)
	}
}

// TestOpenAfterCrashLeftEmptyValueLog: a kill right after badger created
// a new value log file leaves it empty; the next Open must recover.
func TestOpenAfterCrashLeftEmptyValueLog(t *testing.T) {
	root := t.TempDir()
	s := openT(t, root)
	l := addLayer(t, s, map[string]string{"f": "x"})
	if err := s.Record(drv("a"), Output{Layers: []digest.Digest{l}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "index", "000099.vlog"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openT(t, root)
	if _, ok, err := s.Lookup(drv("a")); err != nil || !ok {
		t.Fatalf("after recovery, Lookup = %v, %v", ok, err)
	}
	rep, err := s.Verify(false, rehash)
	if err != nil || !rep.Consistent() {
		t.Fatalf("Verify: %v %+v", err, rep)
	}
}

// TestOpenUnmountsStaleViews: a read-only overlay view that a kiln killed
// during a file step left mounted in tmp (as kilns before detached views
// did) made every later Open fail with EROFS. Open must unmount it, leave
// the layers it showed intact, and Verify must report it.
func TestOpenUnmountsStaleViews(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts an overlay")
	}
	t.Parallel()
	root := t.TempDir()
	s := openT(t, root)
	l1 := addLayer(t, s, map[string]string{"etc/a": "1"})
	l2 := addLayer(t, s, map[string]string{"etc/b": "2"})
	tmp, err := s.TempDir("file-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.Base(tmp), "-"+strconv.Itoa(os.Getpid())+"-") {
		t.Errorf("temp dir %s does not name its process", tmp)
	}
	view := filepath.Join(tmp, "view1")
	if err := os.Mkdir(view, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := "lowerdir=" + s.LayerPath(l2) + ":" + s.LayerPath(l1)
	if err := unix.Mount("overlay", view, "overlay", unix.MS_RDONLY, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(view, unix.MNT_DETACH) })
	s.Close()

	s, err = Open(root)
	if err != nil {
		t.Fatalf("Open after a killed file step: %v", err)
	}
	defer s.Close()
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Errorf("tmp holds %d entries after reopen", len(ents))
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), view) {
		t.Errorf("the view is still mounted")
	}
	for _, l := range []digest.Digest{l1, l2} {
		if ents, err := os.ReadDir(filepath.Join(s.LayerPath(l), "etc")); err != nil || len(ents) != 1 {
			t.Errorf("layer %s after cleanup: %v, %v", l, ents, err)
		}
	}
	rep, err := s.Verify(false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unmounted) != 1 || rep.Unmounted[0] != view || !rep.Consistent() {
		t.Errorf("Verify: %+v; want the view reported as unmounted", rep)
	}
}

// TestLookupManyNeighbours checks the stepping look-up (seekNear) against
// one Lookup per derivation: runs of neighbours, gaps longer than it
// steps, missing derivations between and after recorded ones, duplicates.
func TestLookupManyNeighbours(t *testing.T) {
	t.Parallel()
	s := openT(t, t.TempDir())
	l := addLayer(t, s, map[string]string{"f": "x"})
	for i := range 60 {
		d := drv("n" + strconv.Itoa(i))
		if i%7 == 3 {
			continue // never recorded: asked for below all the same
		}
		if err := s.Record(d, Output{Layers: []digest.Digest{l}, Meta: map[string]string{"i": strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, pick := range []func(i int) bool{
		func(int) bool { return true },
		func(i int) bool { return i%2 == 0 },
		func(i int) bool { return i%11 < 2 },
		func(i int) bool { return i > 50 },
	} {
		var ask []digest.Digest
		for i := range 70 {
			if pick(i) {
				ask = append(ask, drv("n"+strconv.Itoa(i)))
			}
		}
		ask = append(ask, ask[0], drv("absent"))
		many, err := s.LookupMany(ask)
		if err != nil {
			t.Fatal(err)
		}
		want := map[digest.Digest]Output{}
		for _, d := range ask {
			out, ok, err := s.Lookup(d)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				want[d] = out
			}
		}
		if diff := cmp.Diff(want, many); diff != "" {
			t.Errorf("LookupMany of %d (-one by one +many):\n%s", len(ask), diff)
		}
	}
}
