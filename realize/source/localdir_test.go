package source

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// srcDirCount is how many directories srcSampleTree has, its root included.
func srcDirCount() int64 {
	n := int64(1)
	for _, it := range srcSampleTree {
		if it.dir {
			n++
		}
	}
	return n
}

// srcHashCounting hashes dir with a clock an hour ahead (every entry old
// enough to be trusted) and returns the hash and how many directories were
// listed from disk.
func srcHashCounting(t *testing.T, dir string, include, exclude []string, cache StatCache) (string, int64) {
	t.Helper()
	lh := &localHasher{now: srcLaterClock}
	h, err := lh.hash(dir, include, exclude, cache)
	if err != nil {
		t.Fatal(err)
	}
	return h, lh.lists.Load()
}

// TestLocalDirCache: an unchanged tree is hashed without listing a
// directory, and every way of changing a listing (adding, removing or
// re-pointing a symlink, even with the directory's mtime put back) is
// seen, with the hash of an uncached walk.
func TestLocalDirCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srcWriteTree(t, dir, srcSampleTree, time.Unix(1e9, 0))
	cache := &MemStatCache{}

	h1, lists := srcHashCounting(t, dir, nil, nil, cache)
	if lists != srcDirCount() {
		t.Fatalf("cold hash listed %d directories, want %d", lists, srcDirCount())
	}
	h2, lists := srcHashCounting(t, dir, nil, nil, cache)
	if h2 != h1 || lists != 0 {
		t.Fatalf("warm hash %s listing %d directories, want %s and 0", h2, lists, h1)
	}

	check := func(what string, prev string) string {
		t.Helper()
		h, lists := srcHashCounting(t, dir, nil, nil, cache)
		if h == prev {
			t.Fatalf("%s: not seen", what)
		}
		if lists != 1 {
			t.Fatalf("%s: %d directories listed, want 1", what, lists)
		}
		if want := srcMustHash(t, dir, nil, nil, nil); h != want {
			t.Fatalf("%s: cached hash %s, uncached %s", what, h, want)
		}
		return h
	}
	link := filepath.Join(dir, "link")
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("z.md", link); err != nil {
		t.Fatal(err)
	}
	// Put the directory's mtime back, as tar or rsync -t would: its ctime
	// still moves.
	if err := os.Chtimes(dir, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	h3 := check("a symlink re-pointed", h2)
	if err := os.Symlink("b.txt", filepath.Join(dir, "a", "new")); err != nil {
		t.Fatal(err)
	}
	h4 := check("a symlink added", h3)
	if err := os.Remove(filepath.Join(dir, "a", "new")); err != nil {
		t.Fatal(err)
	}
	if h := check("a symlink removed", h4); h != h3 {
		t.Fatalf("removing the added symlink gave %s, want %s as before", h, h3)
	}
}

// TestLocalDirCacheFilters: a listing cached by a walk that excluded a
// symlink holds no target for it; a later walk that keeps it reads it.
func TestLocalDirCacheFilters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srcWriteTree(t, dir, srcSampleTree, time.Unix(1e9, 0))
	cache := &MemStatCache{}
	srcHashCounting(t, dir, nil, []string{"link"}, cache)
	h, lists := srcHashCounting(t, dir, nil, nil, cache)
	if lists != 0 {
		t.Fatalf("%d directories listed, want 0", lists)
	}
	if want := srcMustHash(t, dir, nil, nil, nil); h != want {
		t.Fatalf("cached hash %s, uncached %s", h, want)
	}
}

// TestLocalDirCacheRacy: a directory changed just before it was listed is
// listed again next time.
func TestLocalDirCacheRacy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Symlink("x", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	cache := &MemStatCache{}
	for i := range 2 {
		lh := &localHasher{now: time.Now}
		if _, err := lh.hash(dir, nil, nil, cache); err != nil {
			t.Fatal(err)
		}
		if got := lh.lists.Load(); got != 1 {
			t.Fatalf("run %d listed %d directories; a just-changed one must be listed every time", i, got)
		}
	}
}

func TestLocalDirRecordDecode(t *testing.T) {
	t.Parallel()
	st := localStatRecord{size: 4096, mtime: 1, ctime: 2, ino: 3, dev: 4, mode: 0o40755, recorded: 5}
	ents := []localDirEnt{
		{name: "a", typ: fs.ModeDir},
		{name: "b", typ: fs.ModeSymlink, target: "/bin/busybox", hasTarget: true},
		{name: "c", typ: fs.ModeSymlink},
		{name: "d"},
	}
	b := encodeLocalDirRecord(&st, ents)
	gst, gents, ok := decodeLocalDirRecord(b)
	if !ok || gst != st || len(gents) != len(ents) {
		t.Fatalf("round trip: ok %v, stat %+v, %d entries", ok, gst, len(gents))
	}
	for i := range ents {
		if gents[i] != ents[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, gents[i], ents[i])
		}
	}
	for n := range len(b) {
		if _, _, ok := decodeLocalDirRecord(b[:n]); ok {
			t.Fatalf("a record cut to %d of %d bytes decoded", n, len(b))
		}
	}
	for _, bad := range [][]localDirEnt{
		{{name: ".."}},
		{{name: "a/b"}},
		{{name: ""}},
		{{name: "b"}, {name: "a"}},
		{{name: "a"}, {name: "a"}},
	} {
		if _, _, ok := decodeLocalDirRecord(encodeLocalDirRecord(&st, bad)); ok {
			t.Fatalf("entries %+v decoded", bad)
		}
	}
	if _, _, ok := decodeLocalDirRecord(append(bytes.Clone(b), 0)); ok {
		t.Fatal("a record with trailing bytes decoded")
	}
}
