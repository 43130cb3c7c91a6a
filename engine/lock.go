package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/lockfile"
	"github.com/kiln-build/kiln/lockfile/resolve"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

// LockCheck compares the lock with the build file and changes nothing. It
// returns the differences and, when there are any, an error saying what
// to run.
func (s *Session) LockCheck() ([]lockfile.Change, error) {
	if s.lockErr != nil {
		return nil, fmt.Errorf("%w\nrun 'kiln lock' to rewrite it", s.lockErr)
	}
	// Only a store that exists: checking must not create one. It only
	// explains stale steps, so a store that cannot be opened explains
	// less, and the check still runs.
	changes := s.check(func() *store.Store {
		st, _ := s.storeIfExists()
		return st
	})
	if len(changes) > 0 {
		return changes, fmt.Errorf("%s does not match %s (%d difference(s)): run 'kiln lock' and commit the result", s.lockPath, s.cfg.Filename, len(changes))
	}
	return nil, nil
}

// LockOptions say what LockUpdate re-resolves.
type LockOptions struct {
	// Update re-resolves Only, or every input when Only is empty;
	// without it only inputs missing from the lock or changed are.
	Update bool
	Only   []string
	// Jobs bounds the inputs resolved at once.
	Jobs int
}

// LockUpdate resolves what the lock lacks (or what opts names), writes
// the lock when it changed and returns one change per moved entry.
// Fixed-output run steps are built, with network, to learn their hash.
func (s *Session) LockUpdate(ctx context.Context, opts LockOptions) ([]lockfile.Change, error) {
	if s.remote != nil {
		return nil, usageErrorf("kiln lock writes build.lock.hcl beside the build file, and %s is remote: its lock comes from where it does; clone it, run kiln lock there and push the lock (kiln lock --check reads a remote definition's lock)", s.opts.File)
	}
	old := s.lock
	if old == nil {
		old = lockfile.New()
	}
	ro := resolve.UpdateOptions{
		Only: opts.Only,
		All:  opts.Update && len(opts.Only) == 0,
		Jobs: opts.Jobs,
		Progress: func(addr, state string) {
			if state == resolve.StateResolving {
				s.emit(Event{Kind: Resolving, Address: addr})
			}
		},
		BuildFixedOutput: s.learnFixedOutput,
		Resolvers:        map[string]resolve.Resolver{"deb": resolve.DebResolver(resolve.DebOptions{CacheDir: debCacheDir()})},
	}
	known := map[string]bool{}
	var names []string
	for _, in := range lockfile.Inputs(s.cfg) {
		known[in.Address] = true
		names = append(names, in.Address)
	}
	for _, a := range opts.Only {
		if !known[a] {
			return nil, usageErrorf("%s is not a lockable input of %s; inputs are: %s", a, s.cfg.Filename, strings.Join(names, ", "))
		}
	}
	lock, changes, err := resolve.Update(ctx, s.cfg, old, ro)
	if err != nil {
		return nil, err
	}
	cur, _ := os.ReadFile(s.lockPath)
	if !bytes.Equal(cur, lock.Bytes()) {
		if err := lockfile.WriteFile(s.lockPath, lock); err != nil {
			return nil, err
		}
	}
	if st, err := s.storeIfExists(); err == nil {
		s.rememberSteps(st, lock)
	}
	return changes, nil
}

// learnFixedOutput builds a fixed-output step once, with network, and
// returns the hash of what it produced: the value the lock pins. pins are
// the inputs resolved so far in this kiln lock (the step builds on them).
// The output is also recorded under the pinned step's digest, so that the
// next build finds it instead of running the step again.
func (s *Session) learnFixedOutput(ctx context.Context, address string, pins *lockfile.Lock) (string, error) {
	stage, _, ok := strings.Cut(strings.TrimPrefix(address, "stage."), ".run[")
	if !ok {
		return "", fmt.Errorf("%s is not a run step address", address)
	}
	st, err := s.Store()
	if err != nil {
		return "", err
	}
	// Without its own pin (kiln lock --update keeps none), the step is
	// compiled to be learned; the steps it builds on keep theirs.
	others := lockfile.New()
	for a, e := range pins.Entries {
		if a != address {
			others.Entries[a] = e
		}
	}
	graph, diags := compiler.Compile(s.cfg, []string{"stage." + stage}, compiler.Options{
		Pins:              others,
		SourceDateEpoch:   s.epoch,
		LearnFixedOutputs: true,
		LocalHash:         localHasher(st),
	})
	if diags.HasErrors() {
		return "", s.diagError(diags, false)
	}
	for _, d := range graph.Order {
		n := graph.Nodes[d]
		if n.LockAddress != address {
			continue
		}
		outs, err := s.realize(ctx, st, graph, []digest.Digest{d}, nil, realize.Options{Jobs: runtime.NumCPU(), Dir: s.cfg.Dir, AllowInsecure: s.opts.AllowInsecure})
		if err != nil {
			return "", err
		}
		out := outs[d]
		var root int
		if n.Exec.Root >= 0 {
			root = len(outs[n.Inputs[n.Exec.Root]].Layers)
		}
		if len(out.Layers) <= root {
			return "", fmt.Errorf("%s produced no files: a fixed-output step must write its result", address)
		}
		hash := string(out.Layers[len(out.Layers)-1])
		if err := recordPinned(st, graph, d, hash, out); err != nil {
			return "", fmt.Errorf("recording %s under its pinned digest: %w", address, err)
		}
		return hash, nil
	}
	return "", fmt.Errorf("%s is not a fixed-output run step of build.hcl", address)
}

// recordPinned records out, which the learned step d produced and which
// hashes to hash, as the output of d pinned to hash: the derivation a
// build compiles once the lock has the pin. That is d with its output
// hash set only when every fixed-output step d builds on was pinned while
// learning; otherwise the build asks for other inputs, and nothing is
// recorded (the build then runs the step and checks it).
func recordPinned(st *store.Store, graph *compiler.Graph, d digest.Digest, hash string, out store.Output) error {
	for _, in := range graph.Closure(d) {
		if n := graph.Nodes[in]; in != d && n.Exec != nil && n.LockAddress != "" && n.Exec.OutputHash == "" {
			return nil
		}
	}
	pinned := *graph.Nodes[d]
	ex := *pinned.Exec
	ex.OutputHash = hash
	pinned.Exec = &ex
	dp, err := pinned.Digest()
	if err != nil {
		return err
	}
	return st.Record(dp, out)
}

// debCacheDir keeps Debian Packages indexes between kiln lock runs, by
// sha256; empty (no cache) when the user has no cache directory.
func debCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "kiln", "deb")
}
