package source

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitObject writes an object with git hash-object --literally, which
// skips the checks git applies to what it makes itself, as a hostile
// server's objects would.
func gitObject(t *testing.T, repo, typ string, body []byte) string {
	t.Helper()
	cmd := exec.Command("git", "hash-object", "-w", "--literally", "-t", typ, "--stdin")
	cmd.Dir = repo
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git hash-object: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

type gitEntry struct{ mode, name, oid string }

// gitTree writes a tree with entries as given: duplicate and forbidden
// names included, in the order given.
func gitTree(t *testing.T, repo string, entries ...gitEntry) string {
	t.Helper()
	var b bytes.Buffer
	for _, e := range entries {
		raw, err := hex.DecodeString(e.oid)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(e.mode + " " + e.name + "\x00")
		b.Write(raw)
	}
	return gitObject(t, repo, "tree", b.Bytes())
}

// TestFetchGitHostileTrees: a repository is data from outside. Whatever
// its trees hold (a symlink leaving the checkout and a directory of the
// same name, "..", ".git" with a hook, a name with slashes), the checkout
// writes nothing outside its directory, and runs nothing.
func TestFetchGitHostileTrees(t *testing.T) {
	r := srcNewTestRepo(t)
	host := t.TempDir()
	outside := filepath.Join(host, "outside")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	blob := func(s string) string { return gitObject(t, r.dir, "blob", []byte(s)) }
	pwned := gitTree(t, r.dir, gitEntry{"100644", "pwned", blob("x")})
	hook := gitTree(t, r.dir, gitEntry{"40000", "hooks", gitTree(t, r.dir,
		gitEntry{"100755", "post-checkout", blob("#!/bin/sh\ntouch " + outside + "/hook-ran\n")})})
	link := blob(outside)
	for _, tc := range []struct {
		name    string
		entries []gitEntry
		// ok: the checkout may succeed (it must stay inside either way).
		ok bool
	}{
		// git checks out one of two entries of the same name; either
		// way nothing goes through the symlink.
		{"symlink-then-dir", []gitEntry{{"120000", "l", link}, {"40000", "l", pwned}}, true},
		{"dir-then-symlink", []gitEntry{{"40000", "l", pwned}, {"120000", "l", link}}, true},
		{"dotdot", []gitEntry{{"40000", "..", pwned}}, false},
		{"dot-git", []gitEntry{{"40000", ".git", hook}}, false},
		{"dot-git-case", []gitEntry{{"40000", ".GIT", hook}}, false},
		{"slash-name", []gitEntry{{"100644", "../../../../../../.." + outside + "/pwned", blob("x")}}, false},
		{"symlink-only", []gitEntry{{"120000", "l", link}, {"120000", "rel", blob("../../../../../../.." + outside)}}, true},
	} {
		for _, keep := range []bool{false, true} {
			name := tc.name
			if keep {
				name += "/keep_git_dir"
			}
			t.Run(name, func(t *testing.T) {
				tree := gitTree(t, r.dir, tc.entries...)
				commit := srcGitTest(t, r.dir, "commit-tree", tree, "-m", tc.name)
				srcGitTest(t, r.dir, "update-ref", "refs/heads/evil", commit)
				parent := t.TempDir()
				dest := filepath.Join(parent, "dest")
				if err := os.Mkdir(dest, 0o755); err != nil {
					t.Fatal(err)
				}
				err := FetchGit(context.Background(), "file://"+r.dir, commit, keep, dest, 0)
				t.Log(err)
				if err != nil {
					srcAssertEmptyDir(t, dest)
				} else if !tc.ok {
					t.Errorf("git checked out a tree with %s", tc.name)
				}
				ents, _ := os.ReadDir(outside)
				for _, e := range ents {
					t.Errorf("the checkout wrote %s outside", e.Name())
				}
				if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("the host directory changed: %v %v", fi.Mode(), err)
				}
				if ents, _ := os.ReadDir(parent); len(ents) != 1 {
					t.Errorf("the checkout wrote next to its directory: %v", ents)
				}
			})
		}
	}
}
