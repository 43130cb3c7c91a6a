package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
)

// Progress states passed to UpdateOptions.Progress.
const (
	StateResolving  = "resolving"
	StateResolved   = "resolved"
	StateKept       = "kept"
	StateFailed     = "failed"
	StateUnresolved = "unresolved" // a fixed-output step with no builder
)

// UpdateOptions says what Update re-resolves and how.
type UpdateOptions struct {
	// Only lists addresses to re-resolve even when their entry matches.
	// With Only empty and All false, only missing and stale entries are
	// resolved: what `kiln lock` does.
	Only []string
	// All re-resolves every input: `kiln lock --update`.
	All bool
	// Jobs bounds concurrent resolutions; 0 means 8.
	Jobs int
	// Progress, when set, is called (from several goroutines) as each input
	// moves through the States above.
	Progress func(addr, state string)
	// BuildFixedOutput builds a fixed-output run step to learn its output
	// hash ("sha256:<hex>"). pins holds every other input as resolved so
	// far: fixed-output steps are built after all sources are resolved
	// (they usually build on them), one at a time (they share a store and
	// may build on each other). When nil, such steps are left out of the
	// lock and reported as Missing changes.
	BuildFixedOutput func(ctx context.Context, address string, pins *lockfile.Lock) (hash string, err error)
	// Transport is used for registries and http downloads; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Resolvers replaces (or adds) resolvers by source kind; the built-in
	// ones are registered in resolver.go.
	Resolvers map[string]Resolver
	// TempDir holds scratch git repositories; empty means os.TempDir().
	TempDir string
}

// InputError is one input that failed to resolve.
type InputError struct {
	Address string
	// Range is where build.hcl declares the input, when known.
	Range string
	Err   error
}

func (e *InputError) Error() string {
	where := e.Address
	if e.Range != "" {
		where += " (" + e.Range + ")"
	}
	return fmt.Sprintf("%s: %v\n  check the input in build.hcl, then run `kiln lock --update %s`", where, e.Err, e.Address)
}

func (e *InputError) Unwrap() error { return e.Err }

// Update returns the lock for cfg: old's entries where they still match
// their request (never bumped unless asked), newly resolved entries for
// inputs that are missing, stale or named in opts, and nothing for inputs
// build.hcl no longer has. The changes are Diff(old, new) plus a Missing
// change for each fixed-output step left unresolved. On any failure it
// returns no lock and an error listing every failed input (InputErrors
// joined, sorted by address): the caller keeps the old file.
func Update(ctx context.Context, cfg *lang.Config, old *lockfile.Lock, opts UpdateOptions) (*lockfile.Lock, []lockfile.Change, error) {
	if old == nil {
		old = lockfile.New()
	}
	inputs := lockfile.Inputs(cfg)
	only, err := onlyInputs(cfg, inputs, opts.Only)
	if err != nil {
		return nil, nil, err
	}
	u := newUpdater(cfg, opts)
	next := lockfile.New()
	var (
		runs    []*lockfile.Input
		missing []lockfile.Change
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(u.jobs)
	for _, in := range inputs {
		e := old.Entries[in.Address]
		switch {
		case e != nil && in.Matches(e) && !opts.All && !only[in.Address]:
			next.Entries[in.Address] = e.Clone()
			u.progress(in.Address, StateKept)
		case in.Type == lockfile.TypeRun && opts.BuildFixedOutput == nil:
			missing = append(missing, lockfile.Change{Address: in.Address, Kind: lockfile.Missing, Input: in})
			u.progress(in.Address, StateUnresolved)
		case in.Type == lockfile.TypeRun:
			runs = append(runs, in)
		default:
			g.Go(func() error { u.resolveSource(gctx, in); return nil })
		}
	}
	g.Wait()
	if len(u.failed) == 0 && len(runs) > 0 && ctx.Err() == nil {
		u.buildRuns(ctx, runs, next)
	}
	if len(u.failed) > 0 {
		sort.Slice(u.failed, func(i, j int) bool {
			return u.failed[i].(*InputError).Address < u.failed[j].(*InputError).Address
		})
		return nil, nil, errors.Join(u.failed...)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for a, e := range u.resolved {
		next.Entries[a] = e
	}
	changes := append(lockfile.Diff(old, next), missing...)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Address < changes[j].Address })
	return next, changes, nil
}

// onlyInputs checks that every address in only is an input of cfg.
func onlyInputs(cfg *lang.Config, inputs []*lockfile.Input, only []string) (map[string]bool, error) {
	byAddr := map[string]*lockfile.Input{}
	for _, in := range inputs {
		byAddr[in.Address] = in
	}
	out := map[string]bool{}
	for _, a := range only {
		if byAddr[a] == nil {
			return nil, fmt.Errorf("%s is not a lockable input of %s; inputs are: %s", a, buildFile(cfg), strings.Join(addresses(inputs), ", "))
		}
		out[a] = true
	}
	return out, nil
}

// updater is one Update's resolvers and what they found so far.
type updater struct {
	opts      UpdateOptions
	jobs      int
	progress  func(addr, state string)
	resolvers map[string]Resolver

	mu       sync.Mutex
	resolved map[string]*lockfile.Entry
	failed   []error
}

func newUpdater(cfg *lang.Config, opts UpdateOptions) *updater {
	u := &updater{opts: opts, jobs: opts.Jobs, progress: opts.Progress, resolved: map[string]*lockfile.Entry{}}
	if u.jobs <= 0 {
		u.jobs = 8
	}
	if u.progress == nil {
		u.progress = func(string, string) {}
	}
	env := Env{Dir: cfg.Dir, Transport: opts.Transport, TempDir: opts.TempDir}
	if env.Transport == nil {
		env.Transport = http.DefaultTransport
	}
	env.Client = &http.Client{Transport: env.Transport}
	if env.TempDir == "" {
		env.TempDir = os.TempDir()
	}
	u.resolvers = resolvers(env, opts.Resolvers)
	return u
}

// resolveSource resolves one source with its kind's resolver. A failure
// is recorded, not returned: one run should report every broken input.
func (u *updater) resolveSource(ctx context.Context, in *lockfile.Input) {
	u.progress(in.Address, StateResolving)
	var (
		ne  *lockfile.Entry
		err error
	)
	if r := u.resolvers[in.Type]; r != nil && len(in.Arches) > 0 {
		ne, err = resolveDebArches(ctx, r, in)
	} else if r != nil {
		ne, err = r.Resolve(ctx, in)
	} else {
		err = fmt.Errorf("no resolver for %s sources", in.Type)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		u.failed = append(u.failed, &InputError{Address: in.Address, Range: declRange(in), Err: err})
		u.progress(in.Address, StateFailed)
		return
	}
	u.resolved[in.Address] = ne
	u.progress(in.Address, StateResolved)
}

// buildRuns resolves the fixed-output run steps one at a time, after every
// source: each builds on the pins of everything before it (kept holds the
// entries Update kept).
func (u *updater) buildRuns(ctx context.Context, runs []*lockfile.Input, kept *lockfile.Lock) {
	pins := lockfile.New()
	for a, e := range kept.Entries {
		pins.Entries[a] = e
	}
	for a, e := range u.resolved {
		pins.Entries[a] = e
	}
	for _, in := range runs {
		u.progress(in.Address, StateResolving)
		ne, err := resolveRun(ctx, in, u.opts, pins)
		if err != nil {
			u.failed = append(u.failed, &InputError{Address: in.Address, Range: declRange(in), Err: err})
			u.progress(in.Address, StateFailed)
			continue
		}
		u.resolved[in.Address] = ne
		pins.Entries[in.Address] = ne
		u.progress(in.Address, StateResolved)
	}
}

// resolveRun builds a fixed-output step, with pins for everything it
// builds on, to learn its output hash.
func resolveRun(ctx context.Context, in *lockfile.Input, opts UpdateOptions, pins *lockfile.Lock) (*lockfile.Entry, error) {
	h, err := opts.BuildFixedOutput(ctx, in.Address, pins)
	if err != nil {
		return nil, fmt.Errorf("building the fixed-output step: %w", err)
	}
	// The lock parser accepts only lowercase hex: anything else would write
	// a lock that the next read rejects.
	if hx, ok := strings.CutPrefix(h, "sha256:"); !ok || len(hx) != 64 || strings.Trim(hx, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("building the fixed-output step gave %q, not a sha256 digest", h)
	}
	return &lockfile.Entry{Address: in.Address, Type: lockfile.TypeRun, Step: lockfile.StepDigest(in.Stage, in.Step), OutputHash: h}, nil
}

func declRange(in *lockfile.Input) string {
	if in.Source != nil {
		d := in.Source.DeclRange
		if d.Filename != "" {
			return fmt.Sprintf("%s:%d:%d", d.Filename, d.Start.Line, d.Start.Column)
		}
		return ""
	}
	if in.Step != nil && in.Step.Range.Filename != "" {
		return fmt.Sprintf("%s:%d:%d", in.Step.Range.Filename, in.Step.Range.Start.Line, in.Step.Range.Start.Column)
	}
	return ""
}

func buildFile(cfg *lang.Config) string {
	if cfg.Filename != "" {
		return cfg.Filename
	}
	return "build.hcl"
}

func addresses(ins []*lockfile.Input) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Address
	}
	return out
}
