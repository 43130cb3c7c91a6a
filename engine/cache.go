package engine

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

// PhaseCacheExport is the export of a build's outputs to --cache-to.
const PhaseCacheExport Phase = "cache export"

// cacheSpecs parses the caches of Options and of the environment
// (KILN_CACHE_FROM, KILN_CACHE_TO: specs separated by ';').
func (s *Session) cacheSpecs() (from, to []cache.Spec, err error) {
	if s.opts.NoCache {
		return nil, nil, nil
	}
	fromArgs := append(append([]string(nil), s.opts.CacheFrom...), cache.ParseList(lookupEnv(s.opts.Environ, "KILN_CACHE_FROM"))...)
	toArgs := append(append([]string(nil), s.opts.CacheTo...), cache.ParseList(lookupEnv(s.opts.Environ, "KILN_CACHE_TO"))...)
	for _, a := range fromArgs {
		sp, err := cache.ParseFrom(a)
		if err != nil {
			return nil, nil, &UsageError{Err: err}
		}
		from = append(from, sp)
	}
	for _, a := range toArgs {
		sp, err := cache.ParseTo(a)
		if err != nil {
			return nil, nil, &UsageError{Err: err}
		}
		to = append(to, sp)
	}
	return from, to, nil
}

// importer is the substituter of the --cache-from caches, nil without any.
func (s *Session) importer(ctx context.Context) (realize.Substituter, error) {
	from, _, err := s.cacheSpecs()
	if err != nil || len(from) == 0 {
		return nil, err
	}
	im, err := cache.NewImporter(from, func(msg string) { s.emit(Event{Kind: Warning, Message: msg}) })
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	if err := im.Check(ctx); err != nil {
		return nil, err
	}
	return im, nil
}

// reportFetched tells what subst, the importer, downloaded.
func (s *Session) reportFetched(subst realize.Substituter) {
	im, ok := subst.(*cache.Importer)
	if !ok {
		return
	}
	if n, b := im.Fetched(); n > 0 {
		s.emit(Event{Kind: Notice, Message: fmt.Sprintf("fetched %d outputs from the caches, %d bytes downloaded", n, b)})
	}
}

// ExportCache sends res's outputs to every --cache-to cache: the targets'
// states (mode=min), or every derivation the build realized (mode=max).
// A cache is an optimisation: a failed export is a warning, and an error
// only for a cache given with required=true.
func (s *Session) ExportCache(ctx context.Context, res *Result) error {
	_, to, err := s.cacheSpecs()
	if err != nil || len(to) == 0 {
		return err
	}
	s.started(PhaseCacheExport)
	defer s.finished(PhaseCacheExport)
	for _, sp := range to {
		rep, err := cache.Export(ctx, res.Store, sp, cacheEntries(res, sp.Max))
		if err != nil {
			if sp.Required {
				return fmt.Errorf("the build succeeded, but exporting to the required %s failed: %w", sp, err)
			}
			s.emit(Event{Kind: Warning, Message: fmt.Sprintf("exporting to %s failed, the build is unaffected: %v", sp, err)})
			continue
		}
		s.emit(Event{Kind: Exported, Address: "outputs", Message: fmt.Sprintf("%s (%d new entries, %d there already)", sp, rep.Entries, rep.Skipped)})
	}
	return nil
}

// cacheEntries are the outputs to export, each under its derivation
// digest and, where its inputs' outputs are known, its resolved key.
func cacheEntries(res *Result, all bool) []cache.Entry {
	var ds []digest.Digest
	if all {
		ds = res.Graph.Closure(compiler.TargetRoots(res.Graph.Targets)...)
	} else {
		ds = compiler.TargetRoots(res.Graph.Targets)
	}
	var es []cache.Entry
	for _, d := range ds {
		out, ok := res.Outputs[d]
		if !ok {
			continue
		}
		e := cache.Entry{Keys: []digest.Digest{d}, Output: out, Chain: chainOutputs(res, d)}
		if rk := resolvedKey(res, d); rk != "" {
			e.Keys = append(e.Keys, rk)
		}
		es = append(es, e)
	}
	return es
}

func resolvedKey(res *Result, d digest.Digest) digest.Digest {
	drv := res.Graph.Nodes[d]
	inputs := make([]store.Output, len(drv.Inputs))
	for i, in := range drv.Inputs {
		out, ok := res.Outputs[in]
		if !ok {
			return ""
		}
		inputs[i] = out
	}
	rk, err := realize.ResolvedKey(drv, inputs)
	if err != nil {
		return ""
	}
	return rk
}

// chainOutputs are the outputs of the states d was built on (each step's
// root or base), down to a source or scratch: what exporting d as an image
// reads besides d's own output.
func chainOutputs(res *Result, d digest.Digest) map[digest.Digest]store.Output {
	chain := map[digest.Digest]store.Output{}
	for _, below := range res.Graph.Chain(d)[1:] {
		out, ok := res.Outputs[below]
		if !ok {
			var err error
			if out, ok, err = res.Store.Lookup(below); err != nil || !ok {
				return chain
			}
		}
		chain[below] = out
	}
	return chain
}

// FetchCached fetches into st what the --cache-from caches hold for the
// derivations ds, each checked as a build checks it and recorded as
// fetched, and returns the outputs found: kiln verify --against-cache
// compares them with a rebuild from nothing.
func (s *Session) FetchCached(ctx context.Context, st *store.Store, ds []digest.Digest) (map[digest.Digest]store.Output, error) {
	from, _, err := s.cacheSpecs()
	if err != nil {
		return nil, err
	}
	if len(from) == 0 {
		return nil, &UsageError{Err: fmt.Errorf("no cache to verify against: give --cache-from (or KILN_CACHE_FROM, or a cache block in the build file)")}
	}
	im, err := cache.NewImporter(from, func(msg string) { s.emit(Event{Kind: Warning, Message: msg}) })
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	if err := im.Check(ctx); err != nil {
		return nil, err
	}
	found := map[digest.Digest]store.Output{}
	for _, d := range ds {
		if !im.Has(ctx, d) {
			continue
		}
		out, ok := im.Substitute(ctx, st, d)
		if !ok {
			if ctx.Err() != nil {
				return nil, ErrInterrupted
			}
			continue
		}
		if out.Meta == nil {
			out.Meta = map[string]string{}
		}
		out.Meta[realize.MetaOrigin] = "remote"
		if err := st.Record(d, out); err != nil {
			return nil, err
		}
		found[d] = out
	}
	s.reportFetched(im)
	return found, nil
}
