package engine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/infolder"
	"github.com/kiln-build/kiln/internal/remotedef"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
	"github.com/kiln-build/kiln/realize/executor/bkhelper"
	"github.com/kiln-build/kiln/store"
)

// Session is a loaded build file with its lock, and the store once a step
// needs it. Close releases the store.
type Session struct {
	opts      Options
	cfg       *lang.Config
	loader    *lang.Loader
	lock      *lockfile.Lock
	lockPath  string
	lockErr   error // the lock is readable but not in normal form
	epoch     int64
	epochFrom string
	st        *store.Store
	remote    *remotedef.Def // -f URL: the fetched definition
	helpers   []*bkhelper.Client
	// early is the store being opened since Open (OpenStoreEarly);
	// it is closed once earlySt and earlyErr are set.
	early    chan struct{}
	earlySt  *store.Store
	earlyErr error
}

// Open loads the build file and its lock and resolves SOURCE_DATE_EPOCH.
// It does not open the store: read-only commands must not create one.
func Open(opts Options) (*Session, error) {
	s := &Session{opts: opts}
	if opts.OpenStoreEarly {
		s.early = make(chan struct{})
		go func() {
			defer close(s.early)
			s.earlySt, s.earlyErr = s.openStore()
		}()
	}
	s.started(PhaseLoad)
	defer s.finished(PhaseLoad)
	if err := s.load(); err != nil {
		s.closeRemote()
		s.closeEarly()
		return nil, err
	}
	return s, nil
}

// closeEarly closes the store OpenStoreEarly opened if nothing took it.
func (s *Session) closeEarly() {
	if s.early == nil {
		return
	}
	<-s.early
	s.early = nil
	if s.earlySt != nil {
		s.earlySt.Close()
		s.earlySt = nil
	}
}

func (s *Session) load() error {
	file, name := s.opts.File, s.opts.File
	if remotedef.IsRemote(file) {
		var err error
		if file, name, err = s.fetchRemote(file); err != nil {
			return err
		}
	}
	if _, err := os.Stat(file); err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("no build file at %s: create one (see docs/language.md) or point to it with -f", file)
		}
		return err
	}
	if file == DefaultFile {
		// Found, not named: like the lock and the variables files it must
		// be the folder's own. A file named with -f is the user's choice.
		if err := InBuildFolder(file, "the build file it finds by itself"); err != nil {
			return err
		}
	}
	s.loader = lang.NewLoader(lang.Options{Vars: s.opts.Vars, VarFiles: s.opts.VarFiles, Environ: s.opts.Environ})
	cfg, diags := s.loader.LoadNamed(file, name)
	if diags.HasErrors() || cfg == nil {
		return s.diagError(diags, false)
	}
	if err := s.checkRemote(cfg); err != nil {
		return err
	}
	if len(diags) > 0 { // warnings
		s.emit(Event{Kind: Diagnostics, Diags: diags, Files: s.Files()})
	}
	s.cfg = cfg
	s.lockPath = lockfile.Path(file)
	lock, err := lockfile.Read(s.lockPath)
	if errors.Is(err, lockfile.ErrOutsideFolder) {
		return err
	}
	if err != nil {
		if !errors.Is(err, lockfile.ErrNotNormal) || !s.opts.TolerateAbnormalLock {
			return fmt.Errorf("%w\n%s is not as kiln lock writes it: run 'kiln lock' to rewrite it", err, s.lockPath)
		}
		s.lockErr = err
	}
	s.lock = lock
	return s.resolveEpoch()
}

// InBuildFolder refuses a file kiln found by itself when it is a symlink
// leading outside its folder: the folder may be an untrusted checkout, and
// kiln would read the host file and quote it in diagnostics. what names
// the file in the error.
func InBuildFolder(path, what string) error {
	if _, err := infolder.Join(filepath.Dir(path), filepath.Base(path)); err != nil {
		return fmt.Errorf("%s is a symlink leading outside the build folder; kiln reads %s only from inside it: replace the symlink with the file itself", path, what)
	}
	return nil
}

// resolveEpoch applies the SOURCE_DATE_EPOCH order of docs: build.hcl,
// Options.SourceDateEpoch, the environment, the commit time of the build
// file's git repository, else 0.
func (s *Session) resolveEpoch() error {
	parse := func(from, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return usageErrorf("%s: SOURCE_DATE_EPOCH %q is not a non-negative integer of seconds since 1970", from, v)
		}
		s.epoch, s.epochFrom = n, from
		return nil
	}
	env := lookupEnv(s.opts.Environ, "SOURCE_DATE_EPOCH")
	switch {
	case s.cfg.Project.SourceDateEpoch != nil:
		s.epoch, s.epochFrom = *s.cfg.Project.SourceDateEpoch, s.cfg.Filename
		return nil
	case s.opts.SourceDateEpoch != "":
		return parse("--source-date-epoch", s.opts.SourceDateEpoch)
	case env != "":
		return parse("the SOURCE_DATE_EPOCH environment variable", env)
	}
	if s.remote != nil && s.remote.Commit != "" {
		s.epoch, s.epochFrom = s.remote.CommitTime, "the remote definition's commit"
		return nil
	}
	cmd := exec.Command("git", "log", "-1", "--format=%ct", "--", s.cfg.Filename)
	cmd.Dir = s.cfg.Dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C")
	if out, err := cmd.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		return parse("the build file's last git commit", string(out))
	}
	s.epoch, s.epochFrom = 0, "the default (0)"
	return nil
}

// lookupEnv is the last value of name in environ, as the process
// environment resolves duplicates.
func lookupEnv(environ []string, name string) string {
	v := ""
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// Close releases the store, if the session opened it. It is safe to call
// more than once.
func (s *Session) Close() error {
	s.closeHelpers()
	s.closeRemote()
	s.closeEarly()
	if s.st == nil {
		return nil
	}
	return s.st.Close()
}

// Config is the evaluated build file.
func (s *Session) Config() *lang.Config { return s.cfg }

// Lock is the build file's lock (empty when there is no lock file).
func (s *Session) Lock() *lockfile.Lock { return s.lock }

// LockPath is where the lock lives, next to the build file.
func (s *Session) LockPath() string { return s.lockPath }

// Epoch is SOURCE_DATE_EPOCH for the build, and where it came from.
func (s *Session) Epoch() (int64, string) { return s.epoch, s.epochFrom }

// Files are the sources diagnostics point into.
func (s *Session) Files() map[string]*hcl.File {
	if s.loader == nil {
		return nil
	}
	return s.loader.Files()
}

// StoreRoot is the store's root directory.
func (s *Session) StoreRoot() string { return StoreRoot(s.opts.StoreRoot) }

// StoreRoot is root, else the default root ($KILN_STORE, ...).
func StoreRoot(root string) string {
	if root != "" {
		return root
	}
	return store.DefaultRoot()
}

// Store opens the store, creating it if needed, and keeps it until Close.
func (s *Session) Store() (*store.Store, error) {
	if s.st != nil {
		return s.st, nil
	}
	var st *store.Store
	var err error
	if s.early != nil {
		<-s.early
		st, err = s.earlySt, s.earlyErr
		s.early, s.earlySt = nil, nil
	} else {
		st, err = s.openStore()
	}
	if err != nil {
		return nil, err
	}
	s.st = st
	return st, nil
}

func (s *Session) openStore() (*store.Store, error) {
	var opts []store.Option
	if s.opts.ShortLived {
		opts = append(opts, store.WithShortLived())
	}
	return OpenStore(s.StoreRoot(), s.opts.Events, opts...)
}

// storeIfExists is Store when the store exists, else nil: read-only
// commands such as plan must not create one.
func (s *Session) storeIfExists() (*store.Store, error) {
	if s.st != nil {
		return s.st, nil
	}
	if _, err := os.Stat(s.StoreRoot()); err != nil {
		return nil, nil
	}
	return s.Store()
}

// OpenStore opens the store at root. Kiln processes share it; only an
// older kiln, which takes a store for itself alone, makes this one wait,
// and events (when not nil) are told.
func OpenStore(root string, events func(Event), opts ...store.Option) (*store.Store, error) {
	return store.Open(root, append(opts, store.WithWaitNotice(func(pid int) {
		if events != nil {
			events(Event{Kind: Notice, Message: fmt.Sprintf("waiting for the store at %s: an older kiln (pid %d) is using it alone", root, pid)})
		}
	}))...)
}

// Compile lowers the build file for the named targets (none: the default
// targets) without the store: local sources are hashed from scratch.
func (s *Session) Compile(targets []string) (*compiler.Graph, error) {
	return s.compile(targets, nil)
}

func (s *Session) compile(targets []string, st *store.Store) (*compiler.Graph, error) {
	s.started(PhaseCompile)
	defer s.finished(PhaseCompile)
	platforms, err := s.platformFlags()
	if err != nil {
		return nil, err
	}
	hashes := newLocalHashes(st)
	hashes.prefetch(s.cfg)
	graph, diags := compiler.Compile(s.cfg, targets, compiler.Options{
		Platforms:       platforms,
		Pins:            s.lock,
		SourceDateEpoch: s.epoch,
		LocalHash:       hashes.hash,
	})
	hashes.done()
	if diags.HasErrors() {
		// A target the command line named that build.hcl does not have
		// is a usage error.
		return nil, s.diagError(diags, targetDiags(diags))
	}
	return graph, nil
}

// targetDiags reports whether every error is about the targets named on
// the command line.
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
