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

// Resolver resolves one input of a type to its entry. The deb resolver
// plugs in through UpdateOptions.Resolvers (with its schema in lockfile).
type Resolver func(ctx context.Context, in *lockfile.Input) (*lockfile.Entry, error)

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
	// Resolvers adds or replaces resolvers by source type.
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
	byAddr := map[string]*lockfile.Input{}
	for _, in := range inputs {
		byAddr[in.Address] = in
	}
	only := map[string]bool{}
	for _, a := range opts.Only {
		if byAddr[a] == nil {
			return nil, nil, fmt.Errorf("%s is not a lockable input of %s; inputs are: %s", a, buildFile(cfg), strings.Join(addresses(inputs), ", "))
		}
		only[a] = true
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 8
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string, string) {}
	}
	tr := opts.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	client := &http.Client{Transport: tr}
	tmp := opts.TempDir
	if tmp == "" {
		tmp = os.TempDir()
	}

	var (
		mu       sync.Mutex
		resolved = map[string]*lockfile.Entry{}
		failed   []error
		missing  []lockfile.Change
	)
	next := lockfile.New()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	var runs []*lockfile.Input
	for _, in := range inputs {
		e := old.Entries[in.Address]
		if e != nil && in.Matches(e) && !opts.All && !only[in.Address] {
			next.Entries[in.Address] = e.Clone()
			progress(in.Address, StateKept)
			continue
		}
		if in.Type == lockfile.TypeRun && opts.BuildFixedOutput == nil {
			missing = append(missing, lockfile.Change{Address: in.Address, Kind: lockfile.Missing, Input: in})
			progress(in.Address, StateUnresolved)
			continue
		}
		if in.Type == lockfile.TypeRun {
			runs = append(runs, in)
			continue
		}
		g.Go(func() error {
			progress(in.Address, StateResolving)
			ne, err := resolveOne(gctx, cfg, in, opts, tr, client, tmp)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, &InputError{Address: in.Address, Range: declRange(in), Err: err})
				progress(in.Address, StateFailed)
				// Keep going: one run should report every broken input.
				return nil
			}
			resolved[in.Address] = ne
			progress(in.Address, StateResolved)
			return nil
		})
	}
	g.Wait()
	if len(failed) == 0 && len(runs) > 0 && ctx.Err() == nil {
		pins := lockfile.New()
		for a, e := range next.Entries {
			pins.Entries[a] = e
		}
		for a, e := range resolved {
			pins.Entries[a] = e
		}
		for _, in := range runs {
			progress(in.Address, StateResolving)
			ne, err := resolveRun(ctx, in, opts, pins)
			if err != nil {
				failed = append(failed, &InputError{Address: in.Address, Range: declRange(in), Err: err})
				progress(in.Address, StateFailed)
				continue
			}
			resolved[in.Address] = ne
			pins.Entries[in.Address] = ne
			progress(in.Address, StateResolved)
		}
	}
	if len(failed) > 0 {
		sort.Slice(failed, func(i, j int) bool {
			return failed[i].(*InputError).Address < failed[j].(*InputError).Address
		})
		return nil, nil, errors.Join(failed...)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for a, e := range resolved {
		next.Entries[a] = e
	}
	changes := append(lockfile.Diff(old, next), missing...)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Address < changes[j].Address })
	return next, changes, nil
}

func resolveOne(ctx context.Context, cfg *lang.Config, in *lockfile.Input, opts UpdateOptions, tr http.RoundTripper, client *http.Client, tmp string) (*lockfile.Entry, error) {
	if r := opts.Resolvers[in.Type]; r != nil {
		return r(ctx, in)
	}
	switch in.Type {
	case lockfile.TypeImage:
		return resolveImage(ctx, in, tr)
	case lockfile.TypeHTTP:
		return resolveHTTP(ctx, in, client)
	case lockfile.TypeGit:
		return resolveGit(ctx, in, tmp)
	case lockfile.TypeOCILayout:
		return resolveOCILayout(in, cfg.Dir)
	}
	return nil, fmt.Errorf("no resolver for %s sources", in.Type)
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
