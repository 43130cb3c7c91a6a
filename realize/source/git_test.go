package source

import (
	"context"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// srcTestRepo is a git repository made by the test: commits[0] is the first
// commit, which is no longer the tip of any branch.
type srcTestRepo struct {
	dir     string
	commits []string
}

func srcGitTest(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=kiln", "GIT_AUTHOR_EMAIL=kiln@example.invalid",
		"GIT_COMMITTER_NAME=kiln", "GIT_COMMITTER_EMAIL=kiln@example.invalid",
		"GIT_AUTHOR_DATE=2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2020-01-01T00:00:00Z",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func srcNewTestRepo(t *testing.T) *srcTestRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is not installed (apt-get install git)")
	}
	r := &srcTestRepo{dir: t.TempDir()}
	srcGitTest(t, r.dir, "init", "--quiet", "--initial-branch=main")
	os.WriteFile(filepath.Join(r.dir, "README"), []byte("first\n"), 0o644)
	os.MkdirAll(filepath.Join(r.dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(r.dir, "bin/tool"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(r.dir, ".gitattributes"), []byte("bin/tool export-ignore\n"), 0o644)
	srcGitTest(t, r.dir, "add", "-A")
	srcGitTest(t, r.dir, "commit", "--quiet", "-m", "first")
	r.commits = append(r.commits, srcGitTest(t, r.dir, "rev-parse", "HEAD"))
	os.WriteFile(filepath.Join(r.dir, "README"), []byte("second\n"), 0o644)
	os.WriteFile(filepath.Join(r.dir, "NEW"), []byte("new\n"), 0o644)
	srcGitTest(t, r.dir, "add", "-A")
	srcGitTest(t, r.dir, "commit", "--quiet", "-m", "second")
	r.commits = append(r.commits, srcGitTest(t, r.dir, "rev-parse", "HEAD"))
	return r
}

// srcCheckFirstCommit checks that dest holds exactly the tree of the first
// commit, with git's modes.
func srcCheckFirstCommit(t *testing.T, dest string, wantGit bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dest, "README"))
	if err != nil || string(b) != "first\n" {
		t.Errorf("README = %q, %v; want the first commit's", b, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "NEW")); err == nil {
		t.Error("NEW from the second commit is present")
	}
	for p, want := range map[string]os.FileMode{"README": 0o644, "bin": os.ModeDir | 0o755, "bin/tool": 0o755} {
		fi, err := os.Stat(filepath.Join(dest, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	_, err = os.Stat(filepath.Join(dest, ".git"))
	if wantGit != (err == nil) {
		t.Errorf(".git present = %v, want %v", err == nil, wantGit)
	}
}

// TestFetchGitFile fetches a commit that is not a branch tip over file://,
// by hash (protocol v2 allows it) and as from a server that refuses
// unadvertised hashes (protocol v0), so through both fetch paths. It sets
// the process umask, so it does not run in parallel.
func TestFetchGitFile(t *testing.T) {
	r := srcNewTestRepo(t)
	url := "file://" + r.dir
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name   string
		config []string
	}{
		{"by hash", nil},
		{"by refs", []string{"protocol.version=0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := t.TempDir()
			if err := gitFetch(context.Background(), url, r.commits[0], false, dest, 0, tc.config); err != nil {
				t.Fatal(err)
			}
			srcCheckFirstCommit(t, dest, false)
		})
	}
	t.Run("keep git dir", func(t *testing.T) {
		dest := t.TempDir()
		if err := FetchGit(context.Background(), url, r.commits[0], true, dest, 0); err != nil {
			t.Fatal(err)
		}
		srcCheckFirstCommit(t, dest, true)
		if head := srcGitTest(t, dest, "rev-parse", "HEAD"); head != r.commits[0] {
			t.Errorf("HEAD of the kept .git is %s, want %s", head, r.commits[0])
		}
		if st := srcGitTest(t, dest, "status", "--porcelain"); st != "" {
			t.Errorf("kept checkout is not clean:\n%s", st)
		}
	})
}

func TestFetchGitErrors(t *testing.T) {
	t.Parallel()
	r := srcNewTestRepo(t)
	url := "file://" + r.dir
	missing := strings.Repeat("ab", 20)
	tests := []struct {
		name, url, pin string
		config         []string
		want           []string
	}{
		{"unknown commit", url, missing, nil, []string{url, missing, "not in the repository"}},
		{"unknown commit by refs", url, missing, []string{"protocol.version=0"}, []string{url, missing, "not in the repository"}},
		{"short pin", url, r.commits[0][:12], nil, []string{url, "full commit hash"}},
		{"no repository", "file://" + filepath.Join(r.dir, "nope"), r.commits[0], nil, []string{"nope", r.commits[0]}},
		{"option as url", "--upload-pack=touch /tmp/x", r.commits[0], nil, []string{"not a repository URL"}},
		{"command transport", "ext::sh -c touch% /tmp/pwned", r.commits[0], nil, []string{"ext::", r.commits[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dest := t.TempDir()
			err := gitFetch(context.Background(), tt.url, tt.pin, false, dest, 0, tt.config)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			// Only a pinned commit that is not there points at the lock.
			if pinned := tt.pin == missing; IsPinError(err) != pinned {
				t.Errorf("IsPinError = %v, want %v", !pinned, pinned)
			}
			srcAssertEmptyDir(t, dest)
		})
	}
	t.Run("tree object as pin", func(t *testing.T) {
		t.Parallel()
		tree := srcGitTest(t, r.dir, "rev-parse", "HEAD^{tree}")
		dest := t.TempDir()
		err := FetchGit(context.Background(), url, tree, true, dest, 0)
		if err == nil || !strings.Contains(err.Error(), tree) {
			t.Errorf("error %v should name %s", err, tree)
		}
		srcAssertEmptyDir(t, dest)
	})
}

// TestFetchGitHTTP serves the repository with git's own smart HTTP server
// (git http-backend as CGI) on loopback.
func TestFetchGitHTTP(t *testing.T) {
	t.Parallel()
	r := srcNewTestRepo(t)
	backend := filepath.Join(srcGitTest(t, r.dir, "--exec-path"), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git-http-backend not found: %v", err)
	}
	srv := httptest.NewServer(&cgi.Handler{
		Path: backend,
		Env: []string{
			"GIT_PROJECT_ROOT=" + filepath.Dir(r.dir),
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + t.TempDir(),
		},
	})
	defer srv.Close()
	url := srv.URL + "/" + filepath.Base(r.dir)
	for _, cfg := range [][]string{nil, {"protocol.version=0"}} {
		dest := t.TempDir()
		if err := gitFetch(context.Background(), url, r.commits[0], false, dest, 0, cfg); err != nil {
			t.Fatalf("config %q: %v", cfg, err)
		}
		srcCheckFirstCommit(t, dest, false)
	}
}

func TestFetchGitCanceled(t *testing.T) {
	t.Parallel()
	r := srcNewTestRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dest := t.TempDir()
	err := FetchGit(ctx, "file://"+r.dir, r.commits[0], false, dest, 0)
	if err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("error %v, want a cancellation", err)
	}
	srcAssertEmptyDir(t, dest)
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	tb := &tailBuffer{max: 8}
	for _, w := range []string{"abc", "defghij", "0123456789AB", "xy"} {
		if n, err := tb.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	if got := tb.String(); got != "6789ABxy" {
		t.Errorf("kept %q, want the last 8 bytes %q", got, "6789ABxy")
	}
}
