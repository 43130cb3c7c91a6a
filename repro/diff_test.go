package repro

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// One mtime on both sides, so that only what a case changes differs.
	stamp := time.Unix(1700000000, 0)
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
}

func TestDiffTrees(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(a, "same.txt"), "same\n", 0o644)
	writeFile(t, filepath.Join(b, "same.txt"), "same\n", 0o644)
	writeFile(t, filepath.Join(a, "gone.txt"), "x\n", 0o644)
	writeFile(t, filepath.Join(b, "new.txt"), "y\n", 0o644)
	writeFile(t, filepath.Join(a, "out/date.txt"), "one\nMon\nthree\n", 0o644)
	writeFile(t, filepath.Join(b, "out/date.txt"), "one\nTue\nthree\n", 0o644)
	writeFile(t, filepath.Join(a, "mode.sh"), "#!/bin/sh\n", 0o644)
	writeFile(t, filepath.Join(b, "mode.sh"), "#!/bin/sh\n", 0o755)

	got := diffTrees(a, b)
	owner := fmt.Sprintf("uid %d gid %d", os.Geteuid(), os.Getegid())
	for _, want := range []string{
		"removed /gone.txt (file -rw-r--r--",
		"changed /mode.sh",
		"  first build: file -rw-r--r--",
		"  rebuild:     file -rwxr-xr-x",
		"added   /new.txt (file -rw-r--r--",
		"changed /out/date.txt",
		"  file -rw-r--r-- uid 0 gid 0 mtime 2023-11-14T22:13:20Z size 14 on both sides; contents differ",
		"  --- first build",
		"  +++ rebuild",
		"   one",
		"  -Mon",
		"  +Tue",
		"   three",
	} {
		found := slices.ContainsFunc(got, func(l string) bool {
			return strings.HasPrefix(l, strings.Replace(want, "uid 0 gid 0", owner, 1))
		})
		if !found {
			t.Errorf("diff lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, "same.txt") }) {
		t.Errorf("diff names an identical file:\n%s", strings.Join(got, "\n"))
	}
	if i, j := slices.Index(got, "removed /gone.txt"), slices.Index(got, "changed /out/date.txt"); i > j {
		t.Errorf("paths out of order:\n%s", strings.Join(got, "\n"))
	}
}

func TestDiffTreesSameTrees(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(a, "f"), "x", 0o644)
	writeFile(t, filepath.Join(b, "f"), "x", 0o644)
	got := diffTrees(a, b)
	if len(got) != 1 || !strings.Contains(got[0], "same paths, metadata and contents") {
		t.Errorf("diff of equal trees: %q", got)
	}
}

func TestDiffTreesArchiveMembers(t *testing.T) {
	t.Parallel()
	mk := func(stamp time.Time) string {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, f := range []struct {
			name, body string
			mtime      time.Time
		}{{"a.txt", "same\n", time.Unix(0, 0)}, {"stamp", stamp.String(), stamp}} {
			tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: f.mtime, Typeflag: tar.TypeReg})
			tw.Write([]byte(f.body))
		}
		tw.Close()
		return buf.String()
	}
	a, b := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(a, "bundle.tar"), mk(time.Unix(1, 0)), 0o644)
	writeFile(t, filepath.Join(b, "bundle.tar"), mk(time.Unix(2, 0)), 0o644)
	got := strings.Join(diffTrees(a, b), "\n")
	if !strings.Contains(got, "  archive member stamp: type 0 mode 644 uid 0 gid 0 size ") || strings.Contains(got, "member a.txt") {
		t.Errorf("archive diff:\n%s", got)
	}
}

func TestUnifiedDiff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b []string
		max  int
		want []string
	}{
		{
			a: []string{"x", "y", "z"}, b: []string{"x", "Y", "z"}, max: 30,
			want: []string{"--- first build", "+++ rebuild", " x", "-y", "+Y", " z"},
		},
		{
			a: nil, b: []string{"new"}, max: 30,
			want: []string{"--- first build", "+++ rebuild", "+new"},
		},
		{
			a: []string{"1", "2", "3", "4"}, b: []string{"5", "6", "7", "8"}, max: 3,
			want: []string{"--- first build", "+++ rebuild", "-1", "-2", "-3", "... (more lines differ)"},
		},
	} {
		if got := unifiedDiff(tc.a, tc.b, tc.max); !slices.Equal(got, tc.want) {
			t.Errorf("unifiedDiff(%q, %q, %d) =\n%q\nwant\n%q", tc.a, tc.b, tc.max, got, tc.want)
		}
	}
}

func TestMemberDiff(t *testing.T) {
	t.Parallel()
	a := map[string]member{"k": {desc: "d", sum: "1"}, "gone": {desc: "d"}, "meta": {desc: "old"}}
	b := map[string]member{"k": {desc: "d", sum: "2"}, "new": {desc: "d"}, "meta": {desc: "new"}}
	want := []string{
		"archive member removed: gone",
		"archive member k: contents differ",
		"archive member meta: old -> new",
		"archive member added:   new",
	}
	if got := memberDiff(a, b); !slices.Equal(got, want) {
		t.Errorf("memberDiff =\n%q\nwant\n%q", got, want)
	}
	if got := memberDiff(a, a); len(got) != 1 || !strings.Contains(got[0], "framing") {
		t.Errorf("memberDiff of equal members = %q", got)
	}
}
