package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

// Result is what a build made: the compiled targets and the output of
// every derivation they needed. Store is the session's: it stays open
// until the session is closed.
type Result struct {
	Graph   *compiler.Graph
	Outputs map[digest.Digest]store.Output
	Store   *store.Store
}

// BuildOption changes what Build does besides building.
type BuildOption func(*buildConfig)

type buildConfig struct {
	exports *ExportOptions
}

// CheckingExports has Build check, once the targets are compiled and
// before any step runs, that the exports o describes can be written (the
// specs, the destinations), so that a mistyped output fails at once
// instead of after the whole build. Export later writes them.
func CheckingExports(o ExportOptions) BuildOption {
	return func(c *buildConfig) { c.exports = &o }
}

// Build compiles the targets (none: the default targets), checks the lock
// when Options.Locked is set, realizes every derivation the store lacks
// and records each target's state as a GC root. When ctx is canceled
// while steps run, it returns ErrInterrupted.
func (s *Session) Build(ctx context.Context, targets []string, opts ...BuildOption) (*Result, error) {
	var bc buildConfig
	for _, opt := range opts {
		opt(&bc)
	}
	secrets, err := s.secrets()
	if err != nil {
		return nil, err
	}
	agents, err := s.sshAgents()
	if err != nil {
		return nil, err
	}
	s.started(PhaseOpenStore)
	st, err := s.Store()
	s.finished(PhaseOpenStore)
	if err != nil {
		return nil, err
	}
	graph, err := s.compile(targets, st)
	if err != nil {
		return nil, err
	}
	roots := compiler.TargetRoots(graph.Targets)
	noCache, err := s.noCache(graph, roots)
	if err != nil {
		return nil, err
	}
	s.rememberSteps(st, s.lock)
	if err := s.checkStale(st, graph, roots); err != nil {
		return nil, err
	}
	if s.opts.Locked {
		s.started(PhaseLockCheck)
		err := s.checkLocked(st, graph)
		s.finished(PhaseLockCheck)
		if err != nil {
			return nil, err
		}
	}
	if bc.exports != nil {
		if err := s.checkExports(graph, *bc.exports); err != nil {
			return nil, err
		}
	}
	subst, err := s.importer(ctx)
	if err != nil {
		return nil, err
	}
	ex, err := s.executor(st)
	if err != nil {
		return nil, err
	}
	gc := s.gcConfig(st)
	watch := s.newMinFreeWatcher(st, gc)
	outs, err := s.realize(ctx, st, graph, roots, watch, realize.Options{
		Substituter:   subst,
		Jobs:          s.opts.Jobs,
		KeepGoing:     s.opts.KeepGoing,
		Dir:           s.cfg.Dir,
		Secrets:       secrets,
		SSH:           agents,
		NoCache:       noCache,
		Shuffle:       s.opts.Shuffle,
		AllowInsecure: s.opts.AllowInsecure,
		RequireLimits: s.opts.RequireLimits,
		Warn:          func(msg string) { s.emit(Event{Kind: Warning, Message: msg}) },
		Executor:      ex,
	})
	// Every step has ended: a BuildKit helper has nothing left to do.
	s.closeHelpers()
	s.reportFetched(subst)
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil, ErrInterrupted
		}
		return nil, err
	}
	s.started(PhaseRoots)
	err = s.addRoots(st, graph)
	s.finished(PhaseRoots)
	if err != nil {
		return nil, err
	}
	s.collectAfterBuild(st, gc, watch.built.Load() > 0)
	return &Result{Graph: graph, Outputs: outs, Store: st}, nil
}

// realize builds roots, reporting each step as an event between the
// realize phase's start (with the closure's size) and finish; watch (nil:
// none) collects under min_free meanwhile.
func (s *Session) realize(ctx context.Context, st *store.Store, graph *compiler.Graph, roots []digest.Digest, watch *minFreeWatcher, opts realize.Options) (map[digest.Digest]store.Output, error) {
	s.emit(Event{Kind: PhaseStarted, Phase: PhaseRealize, Total: len(graph.Closure(roots...))})
	defer s.finished(PhaseRealize)
	// Collections under min_free run next to the steps, inside the phase.
	watch.start()
	defer watch.finish()
	opts.Events = func(e realize.Event) {
		watch.step(e)
		s.emit(Event{Kind: Step, Step: e})
	}
	return realize.New(st, opts).Realize(ctx, graph, roots)
}

// addRoots makes each target's last build a GC root. A no-op build leaves
// the roots as they are without writing: writing would cost the index a
// sync.
func (s *Session) addRoots(st *store.Store, graph *compiler.Graph) error {
	existing, err := st.Roots()
	if err != nil {
		return err
	}
	for _, t := range graph.Targets {
		var ds []digest.Digest
		for _, pl := range t.Platforms {
			if d := t.States[pl]; d != "" {
				ds = append(ds, d)
			}
		}
		name := "last-build:" + s.cfg.Dir + ":" + t.Address
		if slices.Equal(existing[name], ds) {
			continue
		}
		if err := st.AddRoot(name, ds...); err != nil {
			return err
		}
	}
	return nil
}

// checkLocked refuses a build whose lock does not pin everything it needs.
func (s *Session) checkLocked(st *store.Store, graph *compiler.Graph) error {
	var missing []string
	for _, d := range graph.Closure(compiler.TargetRoots(graph.Targets)...) {
		n := graph.Nodes[d]
		if n.Unresolved && (n.Kind == compiler.KindSource || n.Exec != nil) {
			missing = append(missing, n.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--locked: build.lock.hcl does not pin %s; run 'kiln lock' and commit build.lock.hcl", strings.Join(dedupe(missing), ", "))
	}
	// A lock that pins everything needed can still be stale elsewhere:
	// entries for inputs build.hcl dropped or changed. CI must see that.
	if changes := s.check(func() *store.Store { return st }); len(changes) > 0 {
		lines := make([]string, len(changes))
		for i, c := range changes {
			lines[i] = "  " + strings.ReplaceAll(c.String(), "\n", "\n  ")
		}
		return fmt.Errorf("--locked: build.lock.hcl does not match %s:\n%s\nrun 'kiln lock' and commit build.lock.hcl", s.cfg.Filename, strings.Join(lines, "\n"))
	}
	return nil
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// sshAgents reads Options.SSH: ID or ID=SOCKET, as buildx's --ssh. Only
// agents asked for are forwarded: a build file cannot reach the caller's
// agent unless the command line says so.
func (s *Session) sshAgents() (map[string]string, error) {
	out := map[string]string{}
	for _, spec := range s.opts.SSH {
		id, sock, hasSock := strings.Cut(spec, "=")
		if id == "" || strings.Contains(sock, ",") {
			return nil, usageErrorf("--ssh %q: want ID (the agent of $SSH_AUTH_SOCK) or ID=SOCKET", spec)
		}
		if !hasSock {
			sock = lookupEnv(s.opts.Environ, "SSH_AUTH_SOCK")
			if sock == "" {
				return nil, usageErrorf("--ssh %s: SSH_AUTH_SOCK is not set; start an agent (eval $(ssh-agent)) or give its socket as --ssh %s=SOCKET", id, id)
			}
		}
		abs, err := filepath.Abs(sock)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, usageErrorf("--ssh %s: %v", id, err)
		}
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, usageErrorf("--ssh %s: %s is not a socket (an ssh-agent's SSH_AUTH_SOCK)", id, abs)
		}
		out[id] = abs
	}
	return out, nil
}

// secrets reads the values of Options.Secrets.
func (s *Session) secrets() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, spec := range s.opts.Secrets {
		kv := map[string]string{}
		for _, part := range strings.Split(spec, ",") {
			k, v, ok := strings.Cut(part, "=")
			if !ok {
				return nil, usageErrorf("--secret %q: want id=ID,src=FILE or id=ID,env=VAR", spec)
			}
			kv[k] = v
		}
		id := kv["id"]
		if id == "" {
			return nil, usageErrorf("--secret %q: missing id=", spec)
		}
		switch {
		case kv["src"] != "":
			b, err := os.ReadFile(kv["src"])
			if err != nil {
				return nil, fmt.Errorf("reading secret %q: %w", id, err)
			}
			out[id] = b
		case kv["env"] != "":
			v, ok := os.LookupEnv(kv["env"])
			if !ok {
				return nil, fmt.Errorf("secret %q: environment variable %s is not set", id, kv["env"])
			}
			out[id] = []byte(v)
		default:
			return nil, usageErrorf("--secret %q: give src=FILE or env=VAR", spec)
		}
		if v := bytes.TrimSpace(out[id]); len(v) > 0 && len(v) < realize.MinRedactLen {
			s.emit(Event{Kind: Warning, Message: fmt.Sprintf("secret %q is shorter than %d bytes, so step output is not redacted for it", id, realize.MinRedactLen)})
		}
	}
	return out, nil
}
