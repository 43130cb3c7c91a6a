package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/diagtext"
	"github.com/kiln-build/kiln/internal/infolder"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
	"github.com/kiln-build/kiln/realize/source"
	"github.com/kiln-build/kiln/store"
)

// project is a loaded build file with its lock, ready to compile.
type project struct {
	cfg       *lang.Config
	lock      *lockfile.Lock
	lockPath  string
	lockErr   error // the lock is readable but not in normal form
	epoch     int64
	epochFrom string
	loader    *lang.Loader
}

// loadProject parses and evaluates the build file and reads its lock.
// Diagnostics are printed here; the caller just returns the error.
func loadProject(g *globals) (*project, error) { return loadProjectLock(g, false) }

// loadProjectLock is loadProject for kiln lock, which may rewrite a lock
// that is not in normal form.
func loadProjectLock(g *globals, tolerateAbnormalLock bool) (*project, error) {
	vars := map[string]string{}
	for _, kv := range g.vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--var %q: want NAME=VALUE", kv)
		}
		vars[k] = v
	}
	if _, err := os.Stat(g.file); err != nil {
		if os.IsNotExist(err) {
			return nil, &exitError{code: 1, err: fmt.Errorf("no build file at %s: create one (see docs/language.md) or point to it with -f", g.file)}
		}
		return nil, err
	}
	if g.file == defaultBuildFile {
		// Found, not named: like the lock and the variables files it must
		// be the folder's own. A file named with -f is the user's choice.
		if err := inBuildFolder(g.file, "the build file it finds by itself"); err != nil {
			return nil, err
		}
	}
	l := lang.NewLoader(lang.Options{Vars: vars, VarFiles: g.varFiles, Environ: os.Environ()})
	cfg, diags := l.Load(g.file)
	if diags.HasErrors() || cfg == nil {
		printDiags(g, l.Files(), diags)
		return nil, errReported
	}
	printDiags(g, l.Files(), diags) // warnings
	lockPath := lockfile.Path(g.file)
	lock, err := lockfile.Read(lockPath)
	p := &project{cfg: cfg, lock: lock, lockPath: lockPath, loader: l}
	if errors.Is(err, lockfile.ErrOutsideFolder) {
		return nil, err
	}
	if err != nil {
		if !errors.Is(err, lockfile.ErrNotNormal) || !tolerateAbnormalLock {
			return nil, fmt.Errorf("%w\n%s is not as kiln lock writes it: run 'kiln lock' to rewrite it", err, lockPath)
		}
		p.lockErr = err
	}
	if err := p.resolveEpoch(g); err != nil {
		return nil, err
	}
	return p, nil
}

// inBuildFolder refuses a file kiln found by itself when it is a symlink
// leading outside its folder: the folder may be an untrusted checkout, and
// kiln would read the host file and quote it in diagnostics.
func inBuildFolder(path, what string) error {
	if _, err := infolder.Join(filepath.Dir(path), filepath.Base(path)); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("%s is a symlink leading outside the build folder; kiln reads %s only from inside it: replace the symlink with the file itself", path, what)}
	}
	return nil
}

// resolveEpoch applies the SOURCE_DATE_EPOCH order of docs: build.hcl,
// --source-date-epoch, the environment, the commit time of the build file's
// git repository, else 0.
func (p *project) resolveEpoch(g *globals) error {
	parse := func(from, s string) error {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || v < 0 {
			return usageErrorf("%s: SOURCE_DATE_EPOCH %q is not a non-negative integer of seconds since 1970", from, s)
		}
		p.epoch, p.epochFrom = v, from
		return nil
	}
	switch {
	case p.cfg.Project.SourceDateEpoch != nil:
		p.epoch, p.epochFrom = *p.cfg.Project.SourceDateEpoch, p.cfg.Filename
		return nil
	case g.epoch != "":
		return parse("--source-date-epoch", g.epoch)
	case os.Getenv("SOURCE_DATE_EPOCH") != "":
		return parse("the SOURCE_DATE_EPOCH environment variable", os.Getenv("SOURCE_DATE_EPOCH"))
	}
	cmd := exec.Command("git", "log", "-1", "--format=%ct", "--", p.cfg.Filename)
	cmd.Dir = p.cfg.Dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C")
	if out, err := cmd.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		return parse("the build file's last git commit", string(out))
	}
	p.epoch, p.epochFrom = 0, "the default (0)"
	return nil
}

// compile lowers the project for the named targets.
func (p *project) compile(g *globals, targets []string, st *store.Store) (*compiler.Graph, error) {
	graph, diags := compiler.Compile(p.cfg, targets, compiler.Options{
		Pins:            p.lock,
		SourceDateEpoch: p.epoch,
		LocalHash:       localHasher(st),
	})
	if diags.HasErrors() {
		printDiags(g, p.loader.Files(), diags)
		if targetDiags(diags) {
			// The command line named what build.hcl does not have.
			return nil, &exitError{code: 2, err: errReported}
		}
		return nil, errReported
	}
	return graph, nil
}

// localHasher hashes local sources, keeping the stat cache in the store
// when there is one so that unchanged trees are not read again.
func localHasher(st *store.Store) func(dir string, include, exclude []string) (string, error) {
	var cache source.StatCache = &source.MemStatCache{}
	if st != nil {
		cache = storeStatCache{st}
	}
	// The compiler asks once per reference: a source that twenty stages
	// start from is hashed once, not twenty times.
	type result struct {
		h   string
		err error
	}
	var mu sync.Mutex
	memo := map[string]result{}
	return func(dir string, include, exclude []string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		k := dir + "\x00" + strings.Join(include, "\x01") + "\x00" + strings.Join(exclude, "\x01")
		if r, ok := memo[k]; ok {
			return r.h, r.err
		}
		h, err := source.LocalHash(dir, include, exclude, cache)
		memo[k] = result{h, err}
		return h, err
	}
}

// storeStatCache keeps local sources' stat cache in the store, so unchanged
// trees are re-hashed from stats alone.
type storeStatCache struct{ s *store.Store }

func (c storeStatCache) Get(key string) ([]byte, bool, error) { return c.s.GetMeta("statcache", key) }
func (c storeStatCache) Put(key string, v []byte) error       { return c.s.PutMeta("statcache", key, v) }

func printDiags(g *globals, files map[string]*hcl.File, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	color := !g.noColor && os.Getenv("NO_COLOR") == "" && isTerminal(os.Stderr)
	width := uint(0)
	if color {
		if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil {
			width = uint(w)
		}
	}
	// Each diagnostic starts with a file:line,col line that editors and CI
	// log viewers link to, then hcl's own rendering with the source line.
	wr := hcl.NewDiagnosticTextWriter(os.Stderr, files, width, color)
	// A file that is not valid HCL may be anything a path led to (a key, a
	// password file): its lines are never printed, and only its first
	// diagnostic is, with the position and the start of the offending
	// token; one per line would quote the start of every line.
	invalid := map[string]bool{}
	first := map[string]*hcl.Diagnostic{}
	hidden := map[string]int{}
	for _, d := range diags {
		if d.Subject == nil {
			continue
		}
		name := d.Subject.Filename
		bad, seen := invalid[name]
		if !seen {
			f := files[name]
			bad = f != nil && !diagtext.ValidHCL(name, f.Bytes)
			invalid[name] = bad
		}
		if !bad {
			continue
		}
		if cur := first[name]; cur == nil || d.Subject.Start.Byte < cur.Subject.Start.Byte {
			first[name] = d
		}
		hidden[name]++
	}
	for _, d := range diags {
		if d.Subject == nil {
			wr.WriteDiagnostic(d)
			continue
		}
		name := d.Subject.Filename
		if invalid[name] {
			if first[name] != d {
				continue
			}
			fmt.Fprintf(os.Stderr, "%s: %s\n", d.Subject, d.Summary)
			diagtext.WriteTokenOnly(os.Stderr, d, files[name].Bytes)
			if n := hidden[name] - 1; n > 0 {
				fmt.Fprintf(os.Stderr, "%d more problem(s) in %s not shown: fix this one and run again.\n\n", n, name)
			}
			continue
		}
		fmt.Fprintf(os.Stderr, "%s: %s\n", d.Subject, d.Summary)
		wr.WriteDiagnostic(d)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// storeRoot is --store, else $KILN_STORE, else the default.
func storeRoot(g *globals) string {
	if g.store != "" {
		return g.store
	}
	return store.DefaultRoot()
}

// openStore opens the store. Kiln processes share it; only an older kiln,
// which takes a store for itself alone, makes this one wait, and it says so.
func openStore(g *globals) (*store.Store, error) {
	root := storeRoot(g)
	return store.Open(root, store.WithWaitNotice(func(pid int) {
		fmt.Fprintf(os.Stderr, "kiln: waiting for the store at %s: an older kiln (pid %d) is using it alone\n", root, pid)
	}))
}

// openStoreIfExists opens the store only when it already exists: read-only
// commands such as plan must not create one.
func openStoreIfExists(g *globals) (*store.Store, error) {
	if _, err := os.Stat(storeRoot(g)); err != nil {
		return nil, nil
	}
	return openStore(g)
}

// targetDiags reports whether every error is about the targets named on
// the command line, which makes it a usage error (exit 2).
func targetDiags(diags hcl.Diagnostics) bool {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		switch d.Summary {
		case compiler.SummaryUnknownTarget, compiler.SummaryAmbiguousTarget, compiler.SummaryNoTarget:
		default:
			return false
		}
	}
	return true
}
