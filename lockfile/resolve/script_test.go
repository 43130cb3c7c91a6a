package resolve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
)

// TestScriptFixtures holds the CLI scripts' expected files to what this
// package produces, so they stay right before `kiln lock` is wired.
func TestScriptFixtures(t *testing.T) {
	extract := func(name string) string {
		src, err := os.ReadFile(filepath.Join("..", "..", "cmd", "kiln", "testdata", "script", name))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		// txtar: "-- NAME --" lines start files.
		var cur *os.File
		for _, line := range strings.SplitAfter(string(src), "\n") {
			if n, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "-- "); ok && strings.HasSuffix(n, " --") {
				if cur != nil {
					cur.Close()
				}
				p := filepath.Join(dir, strings.TrimSuffix(n, " --"))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if cur, err = os.Create(p); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if cur != nil {
				cur.WriteString(line)
			}
		}
		if cur != nil {
			cur.Close()
		}
		return dir
	}
	cfgFor := func(dir string) *lang.Config {
		return &lang.Config{Dir: dir, Project: lang.Project{Platform: "linux/amd64"}, Sources: []*lang.Source{
			{Type: "oci-layout", Name: "base", Path: "base", Ref: "v1"},
			{Type: "local", Name: "ctx", Path: "."},
		}}
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ctx := context.Background()

	dir := extract("lock_basic.txtar")
	l, changes, err := Update(ctx, cfgFor(dir), nil, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(l.Bytes()) != read(filepath.Join(dir, "want.lock.hcl")) || len(changes) != 1 ||
		changes[0].String() != "+ source.oci-layout.base: v1@sha256:4c4eec582b11…" {
		t.Errorf("lock_basic: %v\n%s", changeLines(changes), l.Bytes())
	}

	dir = extract("lock_update.txtar")
	l, _, err = Update(ctx, cfgFor(dir), nil, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "base", "index.json"), []byte(read(filepath.Join(dir, "index2.json"))), 0o644)
	_, changes, err = Update(ctx, cfgFor(dir), l, UpdateOptions{Only: []string{"source.oci-layout.base"}})
	if err != nil || len(changes) != 1 || changes[0].String() != "• source.oci-layout.base: v1@sha256:4c4eec582b11… -> v1@sha256:d14ffb31058c…" {
		t.Errorf("lock_update: %v %v", err, changeLines(changes))
	}

	dir = extract("lock_bad.txtar")
	for file, want := range map[string]string{
		"newer.lock.hcl": "build.lock.hcl:4:11: Unsupported lock file version",
		"short.lock.hcl": "build.lock.hcl:9:12: Invalid digest",
		"dup.lock.hcl":   "source.oci-layout.base is locked twice",
	} {
		p := filepath.Join(dir, "build.lock.hcl")
		os.WriteFile(p, []byte(read(filepath.Join(dir, file))), 0o644)
		if _, err := lockfile.Read(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("lock_bad %s: %v", file, err)
		}
	}
	if _, err := lockfile.Read(filepath.Join(dir, "good.lock.hcl")); err != nil {
		t.Errorf("lock_bad good.lock.hcl: %v", err)
	}

	dir = extract("lock_merge.txtar")
	ours := filepath.Join(dir, "ours.lock.hcl")
	if err := lockfile.MergeFiles(filepath.Join(dir, "base.lock.hcl"), ours, filepath.Join(dir, "theirs.lock.hcl")); err != nil {
		t.Fatal(err)
	}
	if read(ours) != read(filepath.Join(dir, "want.lock.hcl")) {
		t.Errorf("lock_merge:\n%s", read(ours))
	}
}
