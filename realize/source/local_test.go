package source

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// srcTreeItem describes one entry of a test tree: a file (content), a
// directory (dir) or a symlink (link), with explicit permission bits.
type srcTreeItem struct {
	path    string
	content string
	dir     bool
	link    string
	mode    os.FileMode
}

var srcSampleTree = []srcTreeItem{
	{path: "a", dir: true, mode: 0o755},
	{path: "a/b.txt", content: "hello", mode: 0o644},
	{path: "a/run.sh", content: "#!/bin/sh\necho hi\n", mode: 0o755},
	{path: "a/sub", dir: true, mode: 0o700},
	{path: "a/sub/deep.txt", content: "deep", mode: 0o600},
	{path: "empty", dir: true, mode: 0o755},
	{path: "link", link: "a/b.txt"},
	{path: "ro", dir: true, mode: 0o555},
	{path: "ro/x", content: "x", mode: 0o444},
	{path: "setuid", content: "s", mode: 0o755 | os.ModeSetuid},
	{path: "z.md", content: "zz", mode: 0o644},
}

// srcWriteTree creates items under root in the given order. Parents of an
// item are created on demand, and directory modes are applied last so that
// read-only directories can still be filled.
func srcWriteTree(t testing.TB, root string, items []srcTreeItem, mtime time.Time) {
	t.Helper()
	var dirs []srcTreeItem
	for _, it := range items {
		p := filepath.Join(root, it.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		switch {
		case it.dir:
			if err := os.MkdirAll(p, 0o777); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, it)
		case it.link != "":
			if err := os.Symlink(it.link, p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(it.content), 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, it.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		p := filepath.Join(root, dirs[i].path)
		if err := os.Chmod(p, dirs[i].mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { srcMakeWritable(root) })
}

// srcMakeWritable lets t.TempDir's cleanup remove read-only directories when
// the tests do not run as root.
func srcMakeWritable(root string) {
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

func srcMustHash(t testing.TB, dir string, include, exclude []string, cache StatCache) string {
	t.Helper()
	h, err := LocalHash(dir, include, exclude, cache)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLocalHashStable builds the same tree twice, in opposite orders,
// under different umasks and with different mtimes: the hash must not see
// any of that. It changes the process umask, so it does not run in parallel.
func TestLocalHashStable(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	old := syscall.Umask(0o022)
	srcWriteTree(t, a, srcSampleTree, time.Unix(1e9, 0))
	syscall.Umask(0o077)
	rev := make([]srcTreeItem, len(srcSampleTree))
	for i, it := range srcSampleTree {
		rev[len(srcSampleTree)-1-i] = it
	}
	srcWriteTree(t, b, rev, time.Unix(1.7e9, 123))
	syscall.Umask(old)

	ha, hb := srcMustHash(t, a, nil, nil, nil), srcMustHash(t, b, nil, nil, nil)
	if ha != hb {
		t.Fatalf("same tree, different hashes: %s vs %s", ha, hb)
	}
	if !strings.HasPrefix(ha, "sha256:") || len(ha) != len("sha256:")+64 {
		t.Fatalf("hash %q is not sha256:<hex>", ha)
	}
	// A fresh hash with a cache gives the same answer as one without.
	if hc := srcMustHash(t, a, nil, nil, &MemStatCache{}); hc != ha {
		t.Fatalf("cached hash %s differs from uncached %s", hc, ha)
	}
}

func TestLocalHashSeesChanges(t *testing.T) {
	t.Parallel()
	base := func(t *testing.T) (string, string) {
		dir := t.TempDir()
		srcWriteTree(t, dir, srcSampleTree, time.Unix(1e9, 0))
		os.WriteFile(filepath.Join(dir, ".kilnignore"), []byte("*.log\n"), 0o644)
		return dir, srcMustHash(t, dir, nil, []string{"tmp"}, nil)
	}
	changes := []struct {
		name   string
		change func(dir string) error
		same   bool
	}{
		{"content", func(d string) error { return os.WriteFile(filepath.Join(d, "a/b.txt"), []byte("hellO"), 0o644) }, false},
		{"mode", func(d string) error { return os.Chmod(filepath.Join(d, "a/b.txt"), 0o640) }, false},
		{"dir mode", func(d string) error { return os.Chmod(filepath.Join(d, "empty"), 0o750) }, false},
		{"setuid bit", func(d string) error { return os.Chmod(filepath.Join(d, "setuid"), 0o755) }, false},
		{"rename", func(d string) error { return os.Rename(filepath.Join(d, "z.md"), filepath.Join(d, "y.md")) }, false},
		{"symlink target", func(d string) error {
			os.Remove(filepath.Join(d, "link"))
			return os.Symlink("a/run.sh", filepath.Join(d, "link"))
		}, false},
		{"new empty dir", func(d string) error { return os.Mkdir(filepath.Join(d, "new"), 0o755) }, false},
		{"file becomes symlink", func(d string) error {
			os.Remove(filepath.Join(d, "z.md"))
			return os.Symlink("zz", filepath.Join(d, "z.md"))
		}, false},
		{"ignored by .kilnignore", func(d string) error { return os.WriteFile(filepath.Join(d, "a/x.log"), []byte("x"), 0o644) }, false},
		{"ignored at root by .kilnignore", func(d string) error { return os.WriteFile(filepath.Join(d, "x.log"), []byte("x"), 0o644) }, true},
		{"excluded dir", func(d string) error {
			os.Mkdir(filepath.Join(d, "tmp"), 0o755)
			return os.WriteFile(filepath.Join(d, "tmp/junk"), []byte("x"), 0o644)
		}, true},
		{"mtime only", func(d string) error {
			return os.Chtimes(filepath.Join(d, "a/b.txt"), time.Unix(5, 0), time.Unix(5, 0))
		}, true},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir, before := base(t)
			// A warm stat cache (an hour-ahead clock trusts every entry)
			// must see the change too.
			cache := &MemStatCache{}
			warm := &localHasher{now: srcLaterClock}
			if _, err := warm.hash(dir, nil, []string{"tmp"}, cache); err != nil {
				t.Fatal(err)
			}
			if err := c.change(dir); err != nil {
				t.Fatal(err)
			}
			after := srcMustHash(t, dir, nil, []string{"tmp"}, nil)
			if (before == after) != c.same {
				t.Errorf("hash before %s, after %s; want same=%v", before, after, c.same)
			}
			warm = &localHasher{now: srcLaterClock}
			cached, err := warm.hash(dir, nil, []string{"tmp"}, cache)
			if err != nil {
				t.Fatal(err)
			}
			if cached != after {
				t.Errorf("hash with a warm cache %s, without %s", cached, after)
			}
		})
	}
}

// TestLocalFilter checks which paths a walk keeps, through the hash
// records it would write, for ignore files, includes and excludes.
func TestLocalFilter(t *testing.T) {
	t.Parallel()
	files := []string{
		"README.md", "main.go", "docs/a.md", "build/out.bin", "build/keep/k.txt",
		"node_modules/x/index.js", "src/a.go", "src/a_test.go", "src/gen/g.go",
	}
	tests := []struct {
		name             string
		kilnignore       string
		dockerignore     string
		include, exclude []string
		want             []string
	}{
		{
			name: "everything",
			want: []string{"README.md", "build", "build/keep", "build/keep/k.txt", "build/out.bin", "docs", "docs/a.md", "main.go", "node_modules", "node_modules/x", "node_modules/x/index.js", "src", "src/a.go", "src/a_test.go", "src/gen", "src/gen/g.go"},
		},
		{
			name:         "dockerignore with exception inside excluded dir",
			dockerignore: "build\n!build/keep\nnode_modules\n.dockerignore\n",
			want:         []string{"README.md", "build", "build/keep", "build/keep/k.txt", "docs", "docs/a.md", "main.go", "src", "src/a.go", "src/a_test.go", "src/gen", "src/gen/g.go"},
		},
		{
			name:         "kilnignore wins over dockerignore",
			kilnignore:   "**/*.md\n**/*_test.go\nbuild\nnode_modules\n.*ignore\n",
			dockerignore: "src\n",
			want:         []string{"docs", "main.go", "src", "src/a.go", "src/gen", "src/gen/g.go"},
		},
		{
			name:    "include with exclude list last",
			include: []string{"src", "*.md"},
			exclude: []string{"src/gen", "!src/gen/g.go"},
			want:    []string{"README.md", "src", "src/a.go", "src/a_test.go", "src/gen", "src/gen/g.go"},
		},
		{
			name:    "include glob keeps parents only as needed",
			include: []string{"**/*.go"},
			exclude: []string{"**/*_test.go"},
			want:    []string{"main.go", "src", "src/a.go", "src/gen", "src/gen/g.go"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range files {
				os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
				os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
			}
			if tt.kilnignore != "" {
				os.WriteFile(filepath.Join(dir, ".kilnignore"), []byte(tt.kilnignore), 0o644)
			}
			if tt.dockerignore != "" {
				os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(tt.dockerignore), 0o644)
			}
			root, entries, err := localWalk(dir, tt.include, tt.exclude, nil)
			if err != nil {
				t.Fatal(err)
			}
			root.Close()
			var got []string
			for _, e := range entries {
				got = append(got, e.rel)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("kept\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

func TestLocalHashErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	if err := unix.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LocalHash(dir, nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "pipe")) || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("fifo: error %v should name the pipe and its type", err)
	}
	if _, err := LocalHash(dir, nil, []string{"pipe"}, nil); err != nil {
		t.Errorf("excluded fifo: %v", err)
	}
	if _, err := LocalHash("relative/dir", nil, nil, nil); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative dir: error %v", err)
	}
	if _, err := LocalHash(filepath.Join(dir, "missing"), nil, nil, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing dir: error %v", err)
	}
	if _, err := LocalHash(filepath.Join(dir, "f"), nil, nil, nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as dir: error %v", err)
	}
	if _, err := LocalHash(dir, []string{"a["}, nil, nil); err == nil || !strings.Contains(err.Error(), "include") {
		t.Errorf("bad include: error %v", err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, ".dockerignore"), []byte("ok\n[z-a]\n"), 0o644)
	if _, err := LocalHash(bad, nil, nil, nil); err == nil || !strings.Contains(err.Error(), ".dockerignore") || !strings.Contains(err.Error(), "[z-a]") {
		t.Errorf("bad .dockerignore: error %v should name the file and the pattern", err)
	}
}

// srcLaterClock makes every file look old enough for its cache entry to be
// trusted, as it is for any file not modified in the last seconds.
func srcLaterClock() time.Time { return time.Now().Add(time.Hour) }

func TestLocalStatCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srcWriteTree(t, dir, srcSampleTree, time.Unix(1e9, 0))
	cache := &MemStatCache{}
	regular := 0
	for _, it := range srcSampleTree {
		if !it.dir && it.link == "" {
			regular++
		}
	}

	lh := &localHasher{now: srcLaterClock}
	h1, err := lh.hash(dir, nil, nil, cache)
	if err != nil {
		t.Fatal(err)
	}
	if got := lh.reads.Load(); got != int64(regular) {
		t.Fatalf("cold hash read %d files, want %d", got, regular)
	}

	lh = &localHasher{now: srcLaterClock}
	h2, err := lh.hash(dir, nil, nil, cache)
	if err != nil {
		t.Fatal(err)
	}
	if h2 != h1 {
		t.Fatalf("warm hash %s differs from cold %s", h2, h1)
	}
	if got := lh.reads.Load(); got != 0 {
		t.Fatalf("warm hash of an unchanged tree read %d files, want 0", got)
	}

	// Same size, new content, new mtime: found through the stat fields.
	p := filepath.Join(dir, "a/b.txt")
	if err := os.WriteFile(p, []byte("HELLO"), 0o644); err != nil {
		t.Fatal(err)
	}
	lh = &localHasher{now: srcLaterClock}
	h3, err := lh.hash(dir, nil, nil, cache)
	if err != nil {
		t.Fatal(err)
	}
	if h3 == h1 {
		t.Fatal("a changed file (same size) was not detected")
	}
	if got := lh.reads.Load(); got != 1 {
		t.Fatalf("hash after one change read %d files, want 1", got)
	}
	if want := srcMustHash(t, dir, nil, nil, nil); h3 != want {
		t.Fatalf("cached hash %s, uncached %s", h3, want)
	}

	// Same size and the old mtime put back (as rsync -t or tar would): the
	// ctime still moves, so the change is seen.
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("hellp"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	lh = &localHasher{now: srcLaterClock}
	h4, err := lh.hash(dir, nil, nil, cache)
	if err != nil {
		t.Fatal(err)
	}
	if h4 == h3 || h4 == h1 {
		t.Fatal("a same-size change with the old mtime restored was not detected")
	}
}

// TestLocalStatCacheRacy checks the other side of the cache: a file
// changed just before it was hashed is read again next time, since a
// same-size write in the same timestamp tick would not show in its stat.
func TestLocalStatCacheRacy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("fresh"), 0o644)
	cache := &MemStatCache{}
	for i := range 2 {
		lh := &localHasher{now: time.Now}
		if _, err := lh.hash(dir, nil, nil, cache); err != nil {
			t.Fatal(err)
		}
		if got := lh.reads.Load(); got != 1 {
			t.Fatalf("run %d read %d files; a just-written file must be read every time", i, got)
		}
	}
}

func TestCopyLocal(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	srcWriteTree(t, src, srcSampleTree, time.Unix(1.7e9, 0))
	os.WriteFile(filepath.Join(src, "skip.log"), []byte("no"), 0o644)
	exclude := []string{"*.log"}
	want := srcMustHash(t, src, nil, exclude, nil)

	dest := t.TempDir()
	t.Cleanup(func() { srcMakeWritable(dest) })
	const epoch = 1234567890
	got, err := CopyLocal(src, nil, exclude, dest, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("CopyLocal returned %s, LocalHash said %s", got, want)
	}
	if again := srcMustHash(t, dest, nil, nil, nil); again != want {
		t.Fatalf("hash of the copy %s, of the source %s", again, want)
	}
	if _, err := os.Lstat(filepath.Join(dest, "skip.log")); err == nil {
		t.Error("excluded skip.log was copied")
	}
	err = filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mtim.Sec != epoch || st.Mtim.Nsec != 0 {
			t.Errorf("%s: mtime %d.%09d, want %d", p, st.Mtim.Sec, st.Mtim.Nsec, epoch)
		}
		if os.Geteuid() == 0 && (st.Uid != 0 || st.Gid != 0) {
			t.Errorf("%s: owner %d:%d, want 0:0", p, st.Uid, st.Gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dest, "setuid"))
	if err != nil || fi.Mode() != 0o755|os.ModeSetuid {
		t.Errorf("setuid file: mode %v, %v", fi.Mode(), err)
	}

	// Not into a directory that already holds something: a failed copy
	// empties its destination, which must not take anyone's files with it.
	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "mine"), nil, 0o644)
	if _, err := CopyLocal(src, nil, exclude, busy, epoch); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("non-empty destination: error %v", err)
	}
	if _, err := os.Stat(filepath.Join(busy, "mine")); err != nil {
		t.Errorf("a refused copy touched the destination: %v", err)
	}
}

func TestCopyLocalErrorLeavesNothing(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a"), 0o755)
	os.WriteFile(filepath.Join(src, "a/ok"), []byte("ok"), 0o644)
	if err := unix.Mkfifo(filepath.Join(src, "b-pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	_, err := CopyLocal(src, nil, nil, dest, 0)
	if err == nil || !strings.Contains(err.Error(), "b-pipe") {
		t.Fatalf("error %v should name the pipe", err)
	}
	if names, _ := os.ReadDir(dest); len(names) != 0 {
		t.Errorf("failed copy left %v in the destination", names)
	}
}

// BenchmarkLocalHash hashes a generated tree of 10,000 files (100 dirs of
// 100 files, 1 KiB each) cold, reading every file, and warm, from the stat
// cache, next to the floor of a bare walk that lstats every entry;
// "reads/op" shows how many files each run opened.
func BenchmarkLocalHash(b *testing.B) {
	dir := b.TempDir()
	buf := make([]byte, 1024)
	for d := range 100 {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", d))
		if err := os.Mkdir(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			copy(buf, fmt.Sprintf("%d/%d", d, f))
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d", f)), buf, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	run := func(b *testing.B, cache func() StatCache) {
		var reads int64
		for b.Loop() {
			lh := &localHasher{now: srcLaterClock}
			if _, err := lh.hash(dir, nil, nil, cache()); err != nil {
				b.Fatal(err)
			}
			reads += lh.reads.Load()
		}
		b.ReportMetric(float64(reads)/float64(b.N), "reads/op")
	}
	// The floor: listing and lstat-ing every entry, what any change
	// detection that trusts stat fields has to pay.
	b.Run("floor-lstat", func(b *testing.B) {
		for b.Loop() {
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				var st unix.Stat_t
				return unix.Lstat(p, &st)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		run(b, func() StatCache { return &MemStatCache{} })
	})
	b.Run("warm", func(b *testing.B) {
		warm := &MemStatCache{}
		if _, err := (&localHasher{now: srcLaterClock}).hash(dir, nil, nil, warm); err != nil {
			b.Fatal(err)
		}
		run(b, func() StatCache { return warm })
	})
}
