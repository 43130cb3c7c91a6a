package realize

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/store"
)

// EventSubstituted: the output was fetched from a shared cache
// (Options.Substituter) instead of built.
const EventSubstituted EventKind = "substituted"

// MetaOrigin is the output metadata key saying where a recorded output
// came from when it was not built here: "remote" for a substituted one.
const MetaOrigin = "origin"

// Substituter supplies outputs built elsewhere: a shared cache, Nix's
// substituters, BuildKit's cache import. A cache is an optimisation, so its
// methods never fail a build: a substituter reports its own troubles
// (warnings) and answers "no", and the realizer builds instead.
type Substituter interface {
	// Has reports whether an output for key can probably be fetched,
	// without fetching it. The realizer then leaves key's inputs alone
	// (lazy import: a cached final state needs no intermediate one).
	Has(ctx context.Context, key digest.Digest) bool
	// Substitute fetches into st the output recorded under key, checking
	// everything it downloads, and returns it; false when it could not.
	// The realizer records it.
	Substitute(ctx context.Context, st *store.Store, key digest.Digest) (store.Output, bool)
}

// substitutable reports whether the needed derivation d, missing from the
// store, is to be fetched rather than built.
func (r *Realizer) substitutable(ctx context.Context, d digest.Digest) bool {
	return r.opts.Substituter != nil && !r.opts.Rebuild[d] && !r.fresh[d] && r.opts.Substituter.Has(ctx, d)
}

// substitute fetches the output of dg, or of its resolved key rk (inputs
// built here that came out as they did on the machine that filled the
// cache), and records it under both. Callers hold dg's build lock.
func (r *Realizer) substitute(ctx context.Context, dg, rk digest.Digest) (store.Output, bool, error) {
	if r.opts.Substituter == nil || r.opts.Rebuild[dg] || r.opts.NoCache[dg] {
		return store.Output{}, false, nil
	}
	for _, k := range []digest.Digest{dg, rk} {
		if _, failed := r.substFailed.Load(k); k == "" || failed || !r.opts.Substituter.Has(ctx, k) {
			continue
		}
		out, ok := r.opts.Substituter.Substitute(ctx, r.st, k)
		if !ok {
			// Once is enough: the derivation is built instead.
			r.substFailed.Store(k, true)
			continue
		}
		if out.Meta == nil {
			out.Meta = map[string]string{}
		}
		out.Meta[MetaOrigin] = "remote"
		return out, true, r.record(dg, rk, out)
	}
	return store.Output{}, false, nil
}

// fetchOrInputs realizes n, marked substitutable, from the cache; when
// that fails it realizes n's inputs instead (each of which may still come
// from the cache) and returns them, so that n is built.
//
// The caller holds a job slot in sem; it is given back while the inputs
// are realized, which take slots of their own.
func (r *Realizer) fetchOrInputs(ctx context.Context, g *compiler.Graph, n *node, sem *slots) (inputs []store.Output, fetched bool, err error) {
	y := &slotYield{sem: sem}
	out, ok, unlock, err := r.st.LockBuild(ctx, n.dg, y.busy)
	y.retake()
	if err != nil {
		return nil, false, err
	}
	ev := Event{Digest: n.dg, Name: n.drv.Name, Description: n.drv.Description}
	if ok {
		unlock()
		n.out = out
		ev.Kind = EventCached
		r.opts.Events(ev)
		return nil, true, nil
	}
	out, ok, err = r.substitute(ctx, n.dg, "")
	unlock()
	if err != nil {
		return nil, false, err
	}
	if ok {
		n.out = out
		ev.Kind = EventSubstituted
		r.opts.Events(ev)
		return nil, true, nil
	}
	if len(n.drv.Inputs) == 0 {
		return nil, false, nil
	}
	sem.give()
	outs, err := r.Realize(ctx, g, n.drv.Inputs)
	sem.retake() // the caller gives it back; holders of the others finish or stop
	if err != nil {
		return nil, false, err
	}
	inputs = make([]store.Output, len(n.drv.Inputs))
	for i, in := range n.drv.Inputs {
		inputs[i] = outs[in]
	}
	return inputs, false, nil
}

// ResolvedKey is the key under which the output of d, built from inputs,
// is also recorded for early cutoff; "" for a derivation without inputs.
// A cache exports entries under it so that early cutoff works across
// machines.
func ResolvedKey(d *compiler.Derivation, inputs []store.Output) (digest.Digest, error) {
	return resolvedKey(d, inputs)
}
