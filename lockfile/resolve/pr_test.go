package resolve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
)

// TestPullRequests follows two pull requests on a lock of 50 inputs
// through real `git merge`: updates of different inputs merge as they are;
// additions conflict in plain git and merge with the kiln merge driver.
func TestPullRequests(t *testing.T) {
	srv, fs := startHTTP(t)
	cfg := &lang.Config{Dir: t.TempDir()}
	for i := range 50 {
		p := fmt.Sprintf("/f%02d", i)
		fs.set(p, "content "+p)
		cfg.Sources = append(cfg.Sources, &lang.Source{Type: "http", Name: fmt.Sprintf("f%02d", i), URL: srv.URL + p})
	}
	ctx := context.Background()
	base, _, err := Update(ctx, cfg, nil, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	lockPath := filepath.Join(repo, lockfile.FileName)
	git := func(args ...string) string { return run(t, repo, nil, append([]string{"git"}, args...)...) }
	git("init", "-q", "-b", "main")
	if err := lockfile.WriteFile(lockPath, base); err != nil {
		t.Fatal(err)
	}
	git("add", ".")
	git("commit", "-q", "-m", "lock")

	// branch updates one input; the diff is that block's lines only.
	branch := func(name, from string, change func() *lockfile.Lock) []byte {
		git("checkout", "-q", "-b", name, from)
		l := change()
		if err := lockfile.WriteFile(lockPath, l); err != nil {
			t.Fatal(err)
		}
		git("commit", "-q", "-am", name)
		git("checkout", "-q", "main")
		return l.Bytes()
	}
	updateOne := func(addr, path string) func() *lockfile.Lock {
		return func() *lockfile.Lock {
			fs.set(path, "new "+path)
			l, changes, err := Update(ctx, cfg, base, UpdateOptions{Only: []string{addr}})
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != 1 || changes[0].Address != addr {
				t.Fatalf("updating %s: %v", addr, changeLines(changes))
			}
			return l
		}
	}
	branch("bump-f07", "main", updateOne("source.http.f07", "/f07"))
	diff := git("diff", "main", "bump-f07", "--numstat")
	if diff != "2\t2\t"+lockfile.FileName {
		t.Errorf("updating one of 50 inputs: numstat %q, want 2 lines changed (sha256, size)", diff)
	}
	branch("bump-f33", "main", updateOne("source.http.f33", "/f33"))
	git("checkout", "-q", "-b", "merged-updates", "main")
	git("merge", "-q", "--no-edit", "bump-f07")
	git("merge", "-q", "--no-edit", "bump-f33") // fails the test on conflict
	want, _, err := Update(ctx, cfg, base, UpdateOptions{Only: []string{"source.http.f07", "source.http.f33"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(lockPath)
	if d := cmp.Diff(string(want.Bytes()), string(got)); d != "" {
		t.Fatalf("merged updates (-want +got):\n%s", d)
	}

	// Two branches that each add an input at the end of the file.
	add := func(n string) func() *lockfile.Lock {
		return func() *lockfile.Lock {
			fs.set("/"+n, n)
			c := *cfg
			c.Sources = append(append([]*lang.Source(nil), cfg.Sources...), &lang.Source{Type: "http", Name: n, URL: srv.URL + "/" + n})
			l, _, err := Update(ctx, &c, base, UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
	}
	git("checkout", "-q", "main")
	branch("add-zz1", "main", add("zz1"))
	branch("add-zz2", "main", add("zz2"))
	git("checkout", "-q", "-b", "plain", "main")
	git("merge", "-q", "--no-edit", "add-zz1")
	cmd := []string{"git", "merge", "-q", "--no-edit", "add-zz2"}
	if out, err := gitTry(repo, nil, cmd...); err == nil {
		t.Fatalf("expected plain git to conflict on two added blocks; it merged:\n%s", out)
	}
	git("merge", "--abort")

	// With the driver configured as documented (the test binary stands in
	// for `kiln lock --merge`).
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(repo, ".git", "info", "attributes"), []byte(lockfile.FileName+" merge=kiln\n"), 0o644)
	git("config", "merge.kiln.name", "kiln lock file")
	git("config", "merge.kiln.driver", mergeDriverEnv+"=1 "+exe+" %O %A %B")
	git("checkout", "-q", "-b", "driver", "main")
	git("merge", "-q", "--no-edit", "add-zz1")
	git("merge", "-q", "--no-edit", "add-zz2")
	got, _ = os.ReadFile(lockPath)
	all := *cfg
	all.Sources = append(append([]*lang.Source(nil), cfg.Sources...),
		&lang.Source{Type: "http", Name: "zz1", URL: srv.URL + "/zz1"},
		&lang.Source{Type: "http", Name: "zz2", URL: srv.URL + "/zz2"})
	want, _, err = Update(ctx, &all, base, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want.Bytes()), string(got)); d != "" {
		t.Fatalf("driver merge (-want +got):\n%s", d)
	}

	// Both sides changing the same input differently stays a conflict.
	git("checkout", "-q", "main")
	branch("f01-a", "main", func() *lockfile.Lock {
		l, _ := lockfile.Parse(base.Bytes(), "x")
		l.Entries["source.http.f01"].Size = 1
		return l
	})
	branch("f01-b", "main", func() *lockfile.Lock {
		l, _ := lockfile.Parse(base.Bytes(), "x")
		l.Entries["source.http.f01"].Size = 2
		return l
	})
	git("checkout", "-q", "-b", "clash", "main")
	git("merge", "-q", "--no-edit", "f01-a")
	out, err := gitTry(repo, nil, "git", "merge", "--no-edit", "f01-b")
	if err == nil || !strings.Contains(out, "source.http.f01") {
		t.Fatalf("conflicting updates merged or were not named: %v\n%s", err, out)
	}
}

func gitTry(dir string, env []string, args ...string) (string, error) {
	cmd := newCmd(dir, env, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
