package repro

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

// StoreReader is what Verify reads of the first build's store.
type StoreReader interface {
	LookupMany(drvs []digest.Digest) (map[digest.Digest]store.Output, error)
	LayerPath(d digest.Digest) string
	// Root is the store's folder, left out of the cwd variation's copy
	// when it sits inside the build folder.
	Root() string
}

var _ StoreReader = (*store.Store)(nil)

// Config is one verification: the first build to compare with, what to
// vary, and how to start a rebuild.
type Config struct {
	// Graph is the first build's graph: the closure of its targets is
	// rebuilt and compared.
	Graph *compiler.Graph
	// Store holds the first build's outputs.
	Store StoreReader
	// BuildFile is the build file the rebuilds build; the cwd variation
	// copies its folder.
	BuildFile string
	// Jobs is the first build's parallelism, which the jobs variation
	// changes.
	Jobs int

	// Vary lists the variations every round applies (see Feasible).
	Vary []Variation
	// Rounds is how many rebuilds are compared with the first build; the
	// first round that differs ends the verification.
	Rounds int
	// Isolate rebuilds once more without variation, then with one at a
	// time, to say which variation exposes each mismatch.
	Isolate bool
	// Keep leaves the rebuilds' folders (stores, copies, logs) in place;
	// a Keeping event says where.
	Keep bool
	// TempDir is where the rebuilds' folder is made; os.TempDir() when
	// empty.
	TempDir string

	// Exe is the kiln a rebuild runs.
	Exe string
	// Command is the command line (after Exe) that makes the child do r:
	// build the first build's targets from r.File into r.Store with
	// r.Jobs, after r.ApplyToSelf, with r.Shuffle passed to its realizer.
	Command func(r Rebuild) []string
	// Environ is the environment rebuilds start from, usually
	// os.Environ(); see childEnv for what the variations change.
	Environ []string

	// Events receives progress as it happens; nil drops it.
	Events func(Event)
}

// Event is progress of a verification: RoundStarted, RoundIdentical,
// Isolating or Keeping.
type Event interface{ event() }

// RoundStarted: a round begins rebuilding Derivations derivations under
// Vary.
type RoundStarted struct {
	Round       int
	Vary        []Variation
	Derivations int
}

// RoundIdentical: every derivation of the round's rebuild matched.
type RoundIdentical struct {
	Round       int
	Derivations int
}

// Isolating: a rebuild under Vary alone (nothing: a plain rebuild) starts,
// to find what exposes the mismatches.
type Isolating struct{ Vary []Variation }

// Keeping: the rebuilds' folders are under Dir and will be kept.
type Keeping struct{ Dir string }

func (RoundStarted) event()   {}
func (RoundIdentical) event() {}
func (Isolating) event()      {}
func (Keeping) event()        {}

// Report is the outcome of a verification.
type Report struct {
	// Derivations is the number of derivations each round rebuilt.
	Derivations int
	// Rounds is the number of rounds run.
	Rounds int
	// Round is the round whose rebuild differed, 0 when none did.
	Round int
	// Mismatches are the derivations whose outputs differed in Round, in
	// the graph's closure order (inputs first).
	Mismatches []Mismatch
}

// Reproducible tells whether every round rebuilt every output identically.
func (r *Report) Reproducible() bool { return len(r.Mismatches) == 0 }

// Causes counts the mismatches that come from the step itself, not only
// from an input that differs.
func (r *Report) Causes() int {
	n := 0
	for _, m := range r.Mismatches {
		if len(m.Through) == 0 {
			n++
		}
	}
	return n
}

// Mismatch is one derivation whose rebuilt output differs.
type Mismatch struct {
	Derivation  digest.Digest
	Name        string
	Description string
	// First and Rebuild are the outputs of the first build and the rebuild.
	First, Rebuild store.Output
	// Through names the inputs that differ when only the layers this
	// derivation inherits from them do: its own work was reproducible.
	Through []string
	// Exposure is what isolation found, nil when it did not run.
	Exposure *Exposure
	// Layers are the derivation's own layers that differ, with what
	// differs inside them (empty when Through is set).
	Layers []LayerDiff
}

// Exposure says which rebuild shows a mismatch.
type Exposure struct {
	// Plain: a rebuild without any variation differs already.
	Plain bool
	// By is the variation that shows it on its own, or, when none does
	// alone, all of them: only together do they expose it.
	By []Variation
}

// LayerDiff is one differing layer of a mismatch.
type LayerDiff struct {
	Index          int
	First, Rebuild digest.Digest
	// Diff describes the difference of the two trees, a line each: paths
	// added, removed and changed, with their metadata, a diff of text
	// files and the differing members of archives.
	Diff []string
}

// verifier holds what every rebuild of one verification needs.
type verifier struct {
	cfg      Config
	closure  []digest.Digest
	first    map[digest.Digest]store.Output
	lastEnd  time.Time
	tmpRoot  string
	rebuilds int
}

// mismatch is a differing output as a rebuild found it.
type mismatch struct {
	d        digest.Digest
	old, new store.Output
	through  []string
}

// Verify rebuilds the targets of cfg.Graph cfg.Rounds times under cfg.Vary
// and compares every output with the first build's. A report with
// mismatches is not an error; an error means verification could not be
// done (a rebuild failed, was interrupted, or a store was unreadable).
func Verify(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Rounds < 1 {
		return nil, fmt.Errorf("rounds %d: want at least 1", cfg.Rounds)
	}
	if cfg.Exe == "" || cfg.Command == nil {
		return nil, errors.New("verify: no command to start a rebuild with")
	}
	if cfg.Events == nil {
		cfg.Events = func(Event) {}
	}
	v := &verifier{cfg: cfg, lastEnd: time.Now()}
	v.closure = cfg.Graph.Closure(compiler.TargetRoots(cfg.Graph.Targets)...)
	var err error
	if v.first, err = cfg.Store.LookupMany(v.closure); err != nil {
		return nil, err
	}
	if v.tmpRoot, err = os.MkdirTemp(cfg.TempDir, "kiln-verify-"); err != nil {
		return nil, err
	}
	if cfg.Keep {
		cfg.Events(Keeping{Dir: v.tmpRoot})
	} else {
		defer os.RemoveAll(v.tmpRoot)
	}
	rep := &Report{Derivations: len(v.closure)}
	for round := 1; round <= cfg.Rounds; round++ {
		cfg.Events(RoundStarted{Round: round, Vary: cfg.Vary, Derivations: len(v.closure)})
		mm, other, err := v.rebuild(ctx, cfg.Vary)
		if err != nil {
			return nil, err
		}
		rep.Rounds = round
		if len(mm) == 0 {
			other.Close()
			cfg.Events(RoundIdentical{Round: round, Derivations: len(v.closure)})
			continue
		}
		var exposed map[digest.Digest]Exposure
		if cfg.Isolate && len(cfg.Vary) > 0 {
			if exposed, err = v.isolate(ctx, cfg.Vary, mm); err != nil {
				other.Close()
				return nil, err
			}
		}
		rep.Round = round
		rep.Mismatches = v.describe(mm, other, exposed)
		other.Close()
		break // one round with the full report is enough to act on
	}
	return rep, nil
}

// rebuild realizes the targets once more from nothing under the variations
// and returns the derivations whose outputs differ from the first build,
// with the rebuild's store opened for the caller to diff and close.
func (v *verifier) rebuild(ctx context.Context, vary []Variation) ([]mismatch, *store.Store, error) {
	if slices.Contains(vary, Time) {
		if wait := time.Until(v.lastEnd.Add(1100 * time.Millisecond)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, nil, errors.New("interrupted: the rebuild was stopped")
			}
		}
	}
	v.rebuilds++
	p, err := v.plan(v.rebuilds, vary)
	if err != nil {
		return nil, nil, err
	}
	out, err := v.run(ctx, p)
	v.lastEnd = time.Now()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, errors.New("interrupted: the rebuild was stopped")
		}
		return nil, nil, fmt.Errorf("verify: the rebuild (%s) failed where the first build succeeded: %v\n%s", Join(vary, ", "), err, tail(string(out), 20))
	}
	st, err := store.Open(p.Store, store.WithReadOnly())
	if err != nil {
		return nil, nil, fmt.Errorf("opening the rebuild's store: %w", err)
	}
	again, err := st.LookupMany(v.closure)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return compare(v.cfg.Graph, v.closure, v.first, again), st, nil
}

// compare lists the derivations of closure (inputs first) whose outputs
// differ between first and again, marking those that differ only through
// layers inherited from a differing input.
func compare(g *compiler.Graph, closure []digest.Digest, first, again map[digest.Digest]store.Output) []mismatch {
	var mm []mismatch
	bad := map[digest.Digest]bool{}
	for _, d := range closure {
		o, ok1 := first[d]
		n, ok2 := again[d]
		if !ok1 || !ok2 || realize.OutputID(o) == realize.OutputID(n) {
			continue
		}
		m := mismatch{d: d, old: o, new: n}
		if inheritedOnly(g.Nodes[d], first, o, n) {
			for _, in := range g.Nodes[d].Inputs {
				if bad[in] {
					m.through = append(m.through, g.Nodes[in].Name)
				}
			}
		}
		bad[d] = true
		mm = append(mm, m)
	}
	return mm
}

// inheritedOnly tells whether every layer that differs between o and n is
// one the derivation took from an input: its own work was reproducible.
func inheritedOnly(n *compiler.Derivation, first map[digest.Digest]store.Output, o, nw store.Output) bool {
	if !slices.Equal(o.Blobs, nw.Blobs) || len(o.Layers) != len(nw.Layers) {
		return false
	}
	inherited := inheritedLayers(n, first)
	for i := range o.Layers {
		if o.Layers[i] != nw.Layers[i] && !inherited[o.Layers[i]] {
			return false
		}
	}
	return true
}

// inheritedLayers are the layers of n's inputs in the first build.
func inheritedLayers(n *compiler.Derivation, first map[digest.Digest]store.Output) map[digest.Digest]bool {
	inherited := map[digest.Digest]bool{}
	for _, in := range n.Inputs {
		for _, l := range first[in].Layers {
			inherited[l] = true
		}
	}
	return inherited
}

// isolate rebuilds with no variation, then with one at a time, to say
// which exposes each mismatch. Rebuilds stop once every mismatch is
// explained.
func (v *verifier) isolate(ctx context.Context, vary []Variation, mm []mismatch) (map[digest.Digest]Exposure, error) {
	exposed := map[digest.Digest]Exposure{}
	open := map[digest.Digest]bool{}
	for _, m := range mm {
		open[m.d] = true
	}
	tries := [][]Variation{{}}
	if len(vary) > 1 {
		for _, x := range vary {
			tries = append(tries, []Variation{x})
		}
	}
	for _, try := range tries {
		if len(open) == 0 {
			break
		}
		v.cfg.Events(Isolating{Vary: try})
		got, st, err := v.rebuild(ctx, try)
		if err != nil {
			return nil, err
		}
		st.Close()
		for _, m := range got {
			if !open[m.d] {
				continue
			}
			delete(open, m.d)
			exposed[m.d] = Exposure{Plain: len(try) == 0, By: try}
		}
	}
	for d := range open {
		exposed[d] = Exposure{By: vary}
	}
	return exposed, nil
}

// describe turns the mismatches into the report's, diffing each own layer
// that differs between the first build's store and the rebuild's.
func (v *verifier) describe(mm []mismatch, other *store.Store, exposed map[digest.Digest]Exposure) []Mismatch {
	out := make([]Mismatch, 0, len(mm))
	for _, m := range mm {
		n := v.cfg.Graph.Nodes[m.d]
		r := Mismatch{Derivation: m.d, Name: n.Name, Description: n.Description, First: m.old, Rebuild: m.new, Through: m.through}
		if e, ok := exposed[m.d]; ok {
			r.Exposure = &e
		}
		if len(m.through) == 0 {
			inherited := inheritedLayers(n, v.first)
			for i := 0; i < min(len(m.old.Layers), len(m.new.Layers)); i++ {
				a, b := m.old.Layers[i], m.new.Layers[i]
				if a == b || inherited[a] {
					continue
				}
				r.Layers = append(r.Layers, LayerDiff{Index: i, First: a, Rebuild: b,
					Diff: diffTrees(v.cfg.Store.LayerPath(a), other.LayerPath(b))})
			}
		}
		out = append(out, r)
	}
	return out
}
