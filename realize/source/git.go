package source

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// gitAllowedProtocols keeps git away from transports that run commands
// (ext::) or read odd places: a URL in build.hcl must not be a way to run
// code on the host.
const gitAllowedProtocols = "file:git:http:https:ssh"

// FetchGit checks out the tree of commit pin of the repository at url into
// destDir (an existing, empty directory), with the git command. The commit
// is fetched by its hash when the server allows it, else with all branches
// and tags. Without keepGitDir destDir holds only the tree; with it, also a
// .git directory whose HEAD is detached at pin (its contents, like any .git,
// are not byte-reproducible). Files get the modes git records (0644 or
// 0755, directories 0755) whatever the umask. Submodules are not fetched.
// On error destDir is emptied and the error names url and commit. A tree
// whose files add up to more than maxSize bytes (0: DefaultMaxSize) is a
// *SizeLimitError, found from the fetched objects before anything is
// checked out.
func FetchGit(ctx context.Context, url, pin string, keepGitDir bool, destDir string, maxSize int64) error {
	return gitFetch(ctx, url, pin, keepGitDir, destDir, maxSize, nil)
}

// gitFetch is FetchGit with extra "-c key=value" settings for every git
// command, which the tests use to act as a server that refuses fetching by
// hash (protocol version 0).
func gitFetch(ctx context.Context, url, pin string, keepGitDir bool, destDir string, maxSize int64, extraConfig []string) (err error) {
	pin = strings.TrimSpace(pin)
	if err := gitCheckPin(pin); err != nil {
		return fmt.Errorf("git source %s: %w", url, err)
	}
	if url == "" || strings.HasPrefix(url, "-") {
		return fmt.Errorf("git source %q: not a repository URL", url)
	}
	if err := gitCheckDest(url, pin, destDir); err != nil {
		return err
	}

	tmp, err := os.MkdirTemp("", "kiln-git-*")
	if err != nil {
		return fmt.Errorf("git source %s at %s: %w", url, pin, err)
	}
	defer os.RemoveAll(tmp)
	defer func() {
		if err != nil {
			localEmptyDir(destDir)
		}
	}()
	g := &gitRunner{home: filepath.Join(tmp, "home"), config: extraConfig}
	if err := os.Mkdir(g.home, 0o700); err != nil {
		return fmt.Errorf("git source %s at %s: %w", url, pin, err)
	}

	format := "sha1"
	if len(pin) == 64 {
		format = "sha256"
	}
	initArgs := []string{"init", "--quiet", "--object-format=" + format, destDir}
	gitDir := filepath.Join(destDir, ".git")
	if !keepGitDir {
		gitDir = filepath.Join(tmp, "repo.git")
		initArgs = []string{"init", "--quiet", "--bare", "--object-format=" + format, gitDir}
	}
	if _, err := g.run(ctx, initArgs...); err != nil {
		return fmt.Errorf("git source %s at %s: %w", url, pin, err)
	}
	g.gitDir = gitDir

	if err := g.fetchCommit(ctx, url, pin); err != nil {
		return err
	}
	if _, err := g.run(ctx, "update-ref", "--no-deref", "HEAD", pin); err != nil {
		return fmt.Errorf("git source %s at %s: %w", url, pin, err)
	}
	if err := g.checkSize(ctx, newSizeBudget(maxSize).limit); err != nil {
		return err
	}
	// read-tree rather than "checkout -- .", which fails on an empty tree,
	// and rather than git archive, which would apply export-ignore.
	if _, err := g.run(ctx, "--work-tree="+destDir, "read-tree", "--reset", "-u", "HEAD"); err != nil {
		return fmt.Errorf("git source %s at %s: checking out: %w", url, pin, err)
	}
	head, err := g.run(ctx, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return fmt.Errorf("git source %s at %s: %w", url, pin, err)
	}
	if h := strings.TrimSpace(head); h != pin {
		return fmt.Errorf("git source %s: checked out %s, but the lock pins %s", url, h, pin)
	}
	if err := gitNormalizeModes(destDir); err != nil {
		return fmt.Errorf("git source %s at %s: %w", url, pin, err)
	}
	return nil
}

// gitCheckDest checks that destDir is an empty directory: emptying it on
// failure is only safe when all of it is ours.
func gitCheckDest(url, pin, destDir string) error {
	fi, err := os.Stat(destDir)
	if err != nil {
		return fmt.Errorf("git source %s at %s: %w", url, pin, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("git source %s at %s: destination %s is not a directory", url, pin, destDir)
	}
	if names, err := os.ReadDir(destDir); err != nil || len(names) > 0 {
		return fmt.Errorf("git source %s at %s: destination %s must be an empty directory", url, pin, destDir)
	}
	return nil
}

// fetchCommit fetches the pinned commit from url into g's repository.
func (g *gitRunner) fetchCommit(ctx context.Context, url, pin string) error {
	// By hash first: one shallow fetch of exactly what is pinned. Servers
	// speaking only protocol v0 refuse hashes they do not advertise, so
	// then fetch every branch and tag and look for the commit among them.
	_, byHashErr := g.run(ctx, "fetch", "--quiet", "--no-tags", "--depth=1", "--", url, pin)
	if byHashErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("git source %s at %s: %w", url, pin, context.Cause(ctx))
		}
		_, refsErr := g.run(ctx, "fetch", "--quiet", "--no-tags", "--", url,
			"+refs/heads/*:refs/kiln/heads/*", "+refs/tags/*:refs/kiln/tags/*")
		if refsErr != nil {
			return fmt.Errorf("git source %s at %s: fetching: %w", url, pin, refsErr)
		}
		if typ, err := g.run(ctx, "cat-file", "-t", pin); err != nil || strings.TrimSpace(typ) != "commit" {
			return pinErr(fmt.Errorf("git source %s: commit %s is not in the repository (fetching it by hash failed: %v; it is not reachable from any branch or tag either)", url, pin, byHashErr))
		}
	}
	if typ, err := g.run(ctx, "cat-file", "-t", pin); err != nil || strings.TrimSpace(typ) != "commit" {
		return fmt.Errorf("git source %s: %s is not a commit", url, pin)
	}
	return nil
}

func gitCheckPin(pin string) error {
	if (len(pin) != 40 && len(pin) != 64) || strings.ToLower(pin) != pin {
		return fmt.Errorf("pin %q is not a full commit hash (40 or 64 lowercase hex digits)", pin)
	}
	if _, err := hex.DecodeString(pin); err != nil {
		return fmt.Errorf("pin %q is not a full commit hash (40 or 64 lowercase hex digits)", pin)
	}
	return nil
}

// gitNormalizeModes gives files and directories the modes git records
// (it only tracks the executable bit), so that the umask at checkout time
// cannot leak into the layer.
func gitNormalizeModes(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" && filepath.Dir(p) == root {
			return filepath.SkipDir
		}
		switch {
		case d.IsDir():
			return os.Chmod(p, 0o755)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if fi.Mode()&0o111 != 0 {
				mode = 0o755
			}
			return os.Chmod(p, mode)
		}
		return nil
	})
}

// checkSize adds up the sizes of the files in HEAD's tree: git objects are
// compressed, so a small fetch can check out gigabytes.
func (g *gitRunner) checkSize(ctx context.Context, limit int64) error {
	out, err := g.run(ctx, "ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD")
	if err != nil {
		return err
	}
	var total int64
	for e := range strings.SplitSeq(out, "\x00") {
		meta, _, _ := strings.Cut(e, "\t")
		f := strings.Fields(meta)
		if len(f) != 4 || f[1] != "blob" {
			continue // submodule commits have no size and are not checked out
		}
		n, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return fmt.Errorf("git ls-tree: bad size in %q", meta)
		}
		if total += n; total > limit {
			return &SizeLimitError{Limit: limit}
		}
	}
	return nil
}

// gitRunner runs git with a fixed environment: no system or user
// configuration, no prompts, C locale, and only the host variables a fetch
// legitimately needs (PATH to find git and ssh, proxies, the ssh agent).
type gitRunner struct {
	home   string
	gitDir string
	config []string
}

var gitPassEnv = []string{
	"PATH", "SSH_AUTH_SOCK",
	"http_proxy", "https_proxy", "no_proxy", "all_proxy",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
}

func (g *gitRunner) env() []string {
	env := []string{
		"HOME=" + g.home,
		"XDG_CONFIG_HOME=" + filepath.Join(g.home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=/bin/false",
		"SSH_ASKPASS=/bin/false",
		"GIT_SSH_COMMAND=ssh -o BatchMode=yes",
		"GIT_ALLOW_PROTOCOL=" + gitAllowedProtocols,
		"LC_ALL=C",
		"TZ=UTC",
	}
	for _, k := range gitPassEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// run runs one git command and returns its stdout; the error carries git's
// own last words.
func (g *gitRunner) run(ctx context.Context, args ...string) (string, error) {
	var full []string
	for _, c := range g.config {
		full = append(full, "-c", c)
	}
	if g.gitDir != "" {
		full = append(full, "--git-dir="+g.gitDir)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = g.env()
	cmd.Dir = g.home
	cmd.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	name := "git"
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			name = "git " + a
			break
		}
	}
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("git is not installed or not on PATH: %w", err)
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s: %w", name, context.Cause(ctx))
		}
		// git's last few lines, on one line: they say what went wrong.
		var lines []string
		for l := range strings.SplitSeq(stderr.String(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) > 4 {
			lines = lines[len(lines)-4:]
		}
		msg := strings.Join(lines, " ")
		if msg == "" {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return "", fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return stdout.String(), nil
}

// tailBuffer keeps the last max bytes written to it: git relays what the
// server says ("remote: ...") to stderr, and a hostile server could say
// without end, while only git's last lines go into an error.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	if drop := len(t.buf) + len(p) - t.max; drop > 0 {
		t.buf = t.buf[:copy(t.buf, t.buf[drop:])]
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// gitFetcher checks a repository out at its pinned commit (attribute
// keep_git_dir keeps .git).
type gitFetcher struct{}

func (gitFetcher) Fetch(ctx context.Context, req *Request) (Fetched, error) {
	tree, err := req.NewDir()
	if err != nil {
		return Fetched{}, err
	}
	if err := FetchGit(ctx, req.Identifier, req.Pin, req.Attrs["keep_git_dir"] == "true", tree, req.MaxSize); err != nil {
		return Fetched{}, err
	}
	return Fetched{Tree: tree}, nil
}
