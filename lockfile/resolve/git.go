package resolve

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/internal/lazyre"
	"github.com/kiln-build/kiln/lockfile"
)

var reCommit = lazyre.New(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// gitResolver finds the commit REF names on the remote (a branch first,
// then a tag, peeled to its commit, then a full ref name), then fetches
// that one commit into a throwaway bare repository under tmp to read its
// tree and commit time.
type gitResolver struct{ tmp string }

var _ Resolver = gitResolver{}

func newGitResolver(env Env) Resolver { return gitResolver{tmp: env.TempDir} }

// Resolve pins in's branch or tag to a commit.
func (r gitResolver) Resolve(ctx context.Context, in *lockfile.Input) (*lockfile.Entry, error) {
	tmp := r.tmp
	url, ref := in.Source.URL, in.Source.GitRef
	if ref == "" {
		ref = "HEAD"
	}
	commit := ""
	if reCommit.MatchString(ref) {
		commit = ref
	} else {
		out, err := git(ctx, "", "ls-remote", "--", url, ref, ref+"^{}")
		if err != nil {
			return nil, fmt.Errorf("listing refs of %s: %w", url, err)
		}
		refs := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if id, name, ok := strings.Cut(line, "\t"); ok {
				refs[name] = id
			}
		}
		for _, cand := range []string{"refs/heads/" + ref, "refs/tags/" + ref + "^{}", "refs/tags/" + ref, ref + "^{}", ref} {
			if id, ok := refs[cand]; ok {
				commit = id
				break
			}
		}
		if commit == "" {
			return nil, fmt.Errorf("git ref %q not found in %s (no branch, tag or ref of that name)", ref, url)
		}
	}
	dir, err := os.MkdirTemp(tmp, "kiln-lock-git-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if _, err := git(ctx, "", "init", "-q", "--bare", dir); err != nil {
		return nil, fmt.Errorf("creating a scratch repository: %w", err)
	}
	if _, err := git(ctx, dir, "fetch", "-q", "--no-tags", "--depth=1", "--", url, commit); err != nil {
		return nil, fmt.Errorf("fetching %s from %s: %w", commit, url, err)
	}
	out, err := git(ctx, dir, "show", "-s", "--format=%H %T %ct", commit)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s of %s: %w", commit, url, err)
	}
	f := strings.Fields(out)
	if len(f) != 3 || f[0] != commit {
		return nil, fmt.Errorf("reading commit %s of %s: unexpected git output %q", commit, url, out)
	}
	t, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || !reCommit.MatchString(f[1]) {
		return nil, fmt.Errorf("reading commit %s of %s: unexpected git output %q", commit, url, out)
	}
	return &lockfile.Entry{Address: in.Address, Type: lockfile.TypeGit, URL: in.Source.URL, Ref: in.Source.GitRef, Commit: commit, Tree: f[1], CommitTime: t}, nil
}

// git runs the git CLI without prompts or the user's pager, returning
// stdout, or an error carrying stderr.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	full := append([]string{"-c", "protocol.version=2", "-c", "advice.detachedHead=false"}, args...)
	if dir != "" {
		full = append([]string{"-C", dir}, full...)
	}
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", err
		}
		return "", fmt.Errorf("%w: %s", err, msg)
	}
	return stdout.String(), nil
}
