// Package remotedef reads a build definition named by a URL instead of a
// path, as docker buildx bake reads a remote definition: a build file
// over http(s), or a folder of a git repository at a commit. It brings the
// definition into a temporary folder, so that the rest of kiln sees an
// ordinary build file with its lock next to it: a git checkout holds the
// repository's files, so local sources resolve inside it, and a file over
// http has its lock fetched from beside it.
//
// A git definition is always built from one commit: a branch or tag in
// the URL is resolved to a commit first, and the commit is what Def
// names, so a log or metadata file says exactly what was built.
package remotedef

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-build/kiln/internal/infolder"
	"github.com/kiln-build/kiln/internal/lazyre"
)

// Def is a fetched definition.
type Def struct {
	// Spec is the URL as given.
	Spec string
	// Kind is "git" or "http".
	Kind string
	// File is the build file on disk, inside Dir.
	File string
	// Dir is the temporary folder holding the definition: the checkout
	// for git, the build file and its lock for http.
	Dir string
	// Commit is the git commit the definition was read at, CommitTime
	// its committer time (the build's SOURCE_DATE_EPOCH unless set):
	// the checkout has no .git for git log to read.
	Commit     string
	CommitTime int64
	// Pinned is Spec with the ref replaced by Commit: the same
	// definition, whatever the branch does next.
	Pinned string
}

// Close removes the fetched definition.
func (d *Def) Close() error { return os.RemoveAll(d.Dir) }

// Ref is a parsed remote definition: a git repository (URL, Ref, Path) or
// an http(s) file (URL).
type Ref struct {
	Git  bool
	URL  string
	Ref  string // branch, tag or commit; empty: the remote's HEAD
	Path string // the build file inside the repository
}

// IsRemote says whether spec names a remote definition rather than a
// file: anything with a URL scheme kiln reads, or git's scp-like
// user@host:path.
func IsRemote(spec string) bool {
	for _, p := range []string{"http://", "https://", "git://", "git+", "ssh://"} {
		if strings.HasPrefix(spec, p) {
			return true
		}
	}
	return scpLike(spec)
}

// scpLike matches what the expression ^[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:
// does (git's user@host:path), by hand: every kiln build asks it of its
// build file's name, and compiling the expression cost more than the rest
// of the question.
func scpLike(s string) bool {
	user, rest, ok := strings.Cut(s, "@")
	if !ok || user == "" || !allIn(user, "_.-") {
		return false
	}
	host, _, ok := strings.Cut(rest, ":")
	return ok && host != "" && allIn(host, ".-")
}

// allIn reports whether s holds only ASCII letters, digits and bytes of extra.
func allIn(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// Parse reads a remote definition spec:
//
//	https://host/path/build.hcl            a build file over http(s)
//	https://host/repo.git#REF:DIR          a git repository (.git)
//	git+https://host/repo#REF:DIR          the same, for a URL without .git
//	git+file:///srv/repo.git#REF:build.hcl
//	git://host/repo#REF, ssh://..., user@host:repo.git#REF
//
// As in buildx's git contexts, the fragment is REF:PATH, both optional:
// REF a branch, tag or commit (default: the remote's HEAD), PATH the
// build file, or a folder holding build.hcl (default: build.hcl at the
// root).
func Parse(spec string) (Ref, error) {
	rest, frag, hasFrag := strings.Cut(spec, "#")
	switch {
	case strings.HasPrefix(rest, "git+"):
		rest = strings.TrimPrefix(rest, "git+")
		if !strings.Contains(rest, "://") {
			return Ref{}, fmt.Errorf("%s: after git+ comes a URL, like git+https://host/repo#main", spec)
		}
	case strings.HasPrefix(rest, "git://"), strings.HasPrefix(rest, "ssh://"), scpLike(rest):
	case strings.HasPrefix(rest, "http://"), strings.HasPrefix(rest, "https://"):
		u, err := url.Parse(rest)
		if err != nil || u.Host == "" {
			return Ref{}, fmt.Errorf("%s is not a URL kiln can read: %v", spec, err)
		}
		if !strings.HasSuffix(u.Path, ".git") {
			if hasFrag {
				return Ref{}, fmt.Errorf("%s: a #fragment names a git ref, but %s is not a git repository URL (it does not end in .git); write git+%s for a repository", spec, rest, spec)
			}
			return Ref{URL: rest}, nil
		}
	default:
		return Ref{}, fmt.Errorf("%s is not a remote definition: use an https URL of a build file or a git URL (see docs/language.md)", spec)
	}
	if rest == "" {
		return Ref{}, fmt.Errorf("%s: no repository URL", spec)
	}
	ref, p, _ := strings.Cut(frag, ":")
	if strings.HasPrefix(ref, "-") {
		return Ref{}, fmt.Errorf("%s: %q is not a git ref", spec, ref)
	}
	p = path.Clean("/" + p)[1:]
	if p == "" {
		p = "build.hcl"
	} else if !strings.HasSuffix(p, ".hcl") && !strings.HasSuffix(p, ".json") {
		p = path.Join(p, "build.hcl")
	}
	return Ref{Git: true, URL: rest, Ref: ref, Path: p}, nil
}

// MaxFileSize bounds a build file or lock fetched over http.
const MaxFileSize = 16 << 20

// Fetch brings the definition spec names into a new folder under tmp
// (empty: the system's temporary folder). The caller closes the Def.
func Fetch(ctx context.Context, spec, tmp string) (*Def, error) {
	r, err := Parse(spec)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tmp, "kiln-definition-")
	if err != nil {
		return nil, err
	}
	d := &Def{Spec: spec, Dir: dir}
	if r.Git {
		err = fetchGit(ctx, r, d)
	} else {
		err = fetchHTTP(ctx, r, d)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return d, nil
}

var reCommit = lazyre.New(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

func fetchGit(ctx context.Context, r Ref, d *Def) error {
	d.Kind = "git"
	commit, err := resolveCommit(ctx, r)
	if err != nil {
		return err
	}
	// The repository lives beside the checkout, not in it as .git: its
	// index and FETCH_HEAD differ on every fetch, and a local source of
	// the whole folder must hash the same each time.
	gd, co := filepath.Join(d.Dir, "git"), filepath.Join(d.Dir, "checkout")
	if _, err := git(ctx, "", "init", "-q", "--bare", gd); err != nil {
		return fmt.Errorf("creating a scratch repository: %w", err)
	}
	if err := os.Mkdir(co, 0o755); err != nil {
		return err
	}
	if _, err := git(ctx, gd, "fetch", "-q", "--no-tags", "--depth=1", "--", r.URL, commit); err != nil {
		// Servers that cannot send one commit alone (git's dumb http
		// protocol, a commit no ref advertises under protocol v0) can
		// still send every branch and tag, the commit among them.
		if _, err2 := git(ctx, gd, "fetch", "-q", "--no-tags", "--", r.URL, "+refs/heads/*:refs/kiln/heads/*", "+refs/tags/*:refs/kiln/tags/*"); err2 != nil {
			return fmt.Errorf("fetching commit %s of %s: %w", commit, r.URL, err)
		}
		if _, err2 := git(ctx, gd, "cat-file", "-e", commit+"^{commit}"); err2 != nil {
			return fmt.Errorf("fetching commit %s of %s: no branch or tag holds it (%w)", commit, r.URL, err)
		}
	}
	if _, err := git(ctx, gd, "--work-tree="+co, "-c", "advice.detachedHead=false", "checkout", "-q", "-f", "--detach", commit); err != nil {
		return fmt.Errorf("checking out commit %s of %s: %w", commit, r.URL, err)
	}
	out, err := git(ctx, gd, "show", "-s", "--format=%ct", commit)
	if err != nil {
		return fmt.Errorf("reading commit %s of %s: %w", commit, r.URL, err)
	}
	if d.CommitTime, err = strconv.ParseInt(strings.TrimSpace(out), 10, 64); err != nil {
		return fmt.Errorf("reading commit %s of %s: unexpected git output %q", commit, r.URL, out)
	}
	// The build file must be the repository's own: a symlink out of the
	// checkout would read a file of this machine.
	f, err := infolder.Join(co, filepath.FromSlash(r.Path))
	if err != nil {
		return fmt.Errorf("%s: %s leads outside the repository", d.Spec, r.Path)
	}
	if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("%s: the repository has no build file %s at commit %s; name it after the ref, like #%s:path/to/build.hcl", d.Spec, r.Path, commit, orHEAD(r.Ref))
	}
	d.File, d.Commit = f, commit
	d.Pinned = pinned(d.Spec, r, commit)
	return nil
}

func orHEAD(ref string) string {
	if ref == "" {
		return "main"
	}
	return ref
}

// pinned is spec with its ref replaced by commit.
func pinned(spec string, r Ref, commit string) string {
	base, _, _ := strings.Cut(spec, "#")
	return base + "#" + commit + ":" + r.Path
}

// resolveCommit finds the commit r.Ref names on the remote: a commit
// as it is, else a branch, then a tag (peeled to its commit), then a full
// ref name, as kiln lock resolves a git source.
func resolveCommit(ctx context.Context, r Ref) (string, error) {
	if reCommit.MatchString(r.Ref) {
		return r.Ref, nil
	}
	ref := r.Ref
	if ref == "" {
		ref = "HEAD"
	}
	out, err := git(ctx, "", "ls-remote", "--", r.URL, ref, ref+"^{}")
	if err != nil {
		return "", fmt.Errorf("listing the refs of %s: %w", r.URL, err)
	}
	refs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if id, name, ok := strings.Cut(line, "\t"); ok {
			refs[name] = id
		}
	}
	for _, cand := range []string{"refs/heads/" + ref, "refs/tags/" + ref + "^{}", "refs/tags/" + ref, ref + "^{}", ref} {
		if id, ok := refs[cand]; ok && reCommit.MatchString(id) {
			return id, nil
		}
	}
	return "", fmt.Errorf("%s has no branch, tag or ref %q", r.URL, ref)
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	// Nothing of this machine's git configuration or a prompt for
	// credentials may change or stall what is fetched.
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.New(msg)
	}
	return stdout.String(), nil
}

// fetchHTTP downloads the build file and, from beside it, its lock,
// which may be missing.
func fetchHTTP(ctx context.Context, r Ref, d *Def) error {
	d.Kind = "http"
	u, err := url.Parse(r.URL)
	if err != nil {
		return err
	}
	name := path.Base(u.Path)
	if !strings.HasSuffix(name, ".hcl") && !strings.HasSuffix(name, ".json") {
		name = "build.hcl"
	}
	d.File = filepath.Join(d.Dir, name)
	if found, err := download(ctx, r.URL, d.File); err != nil {
		return err
	} else if !found {
		return fmt.Errorf("%s: not found (404)", r.URL)
	}
	lu := *u
	lu.Path = path.Join(path.Dir(u.Path), "build.lock.hcl")
	lu.RawQuery, lu.Fragment = "", ""
	if _, err := download(ctx, lu.String(), filepath.Join(d.Dir, "build.lock.hcl")); err != nil {
		return fmt.Errorf("fetching the lock beside %s: %w", r.URL, err)
	}
	d.Pinned = d.Spec
	return nil
}

// download writes the body of u to dst; false if the server says 404.
func download(ctx context.Context, u, dst string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("fetching %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxFileSize+1))
	if err != nil {
		return false, fmt.Errorf("fetching %s: %w", u, err)
	}
	if len(body) > MaxFileSize {
		return false, fmt.Errorf("fetching %s: larger than %d MiB, which no build file is", u, MaxFileSize>>20)
	}
	return true, os.WriteFile(dst, body, 0o644)
}
