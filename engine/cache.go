package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

// PhaseCacheExport is the export of a build's outputs to --cache-to.
const PhaseCacheExport Phase = "cache export"

// cacheSpecs are the caches to import from and to export to. For each
// direction the first that names any wins: the command line, then
// KILN_CACHE_FROM / KILN_CACHE_TO (specs separated by ';'), then the build
// file's cache_from / cache_to, whose relative paths (key=, trusted=,
// src=, dest=) are the build file's folder's and whose bad specs are
// diagnostics at their place in the file.
func (s *Session) cacheSpecs() (from, to []cache.Spec, err error) {
	if s.opts.IgnoreCaches {
		return nil, nil, nil
	}
	var proj lang.Project
	if s.cfg != nil {
		proj = s.cfg.Project
	}
	from, fromDiags, err := s.cacheSide(s.opts.CacheFrom, "KILN_CACHE_FROM", proj.CacheFrom, cache.ParseFrom)
	if err != nil {
		return nil, nil, err
	}
	to, toDiags, err := s.cacheSide(s.opts.CacheTo, "KILN_CACHE_TO", proj.CacheTo, cache.ParseTo)
	if err != nil {
		return nil, nil, err
	}
	if diags := append(toDiags, fromDiags...); diags.HasErrors() {
		return nil, nil, s.diagError(diags, false)
	}
	return from, to, nil
}

func (s *Session) cacheSide(flags []string, env string, file []lang.CacheSpec, parse func(string) (cache.Spec, error)) ([]cache.Spec, hcl.Diagnostics, error) {
	args := flags
	if len(args) == 0 {
		args = cache.ParseList(lookupEnv(s.opts.Environ, env))
	}
	var specs []cache.Spec
	if len(args) > 0 {
		for _, a := range args {
			sp, err := parse(a)
			if err != nil {
				return nil, nil, &UsageError{Err: err}
			}
			specs = append(specs, sp)
		}
		return specs, nil, nil
	}
	var diags hcl.Diagnostics
	for _, cs := range file {
		sp, err := parse(cs.Spec)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid cache spec",
				Detail: fileSpecErr(err) + ".", Subject: cs.Range.Ptr()})
			continue
		}
		specs = append(specs, s.inBuildDir(sp))
	}
	return specs, diags, nil
}

// fileSpecErr is a spec's error as the build file spells the setting.
func fileSpecErr(err error) string {
	msg := err.Error()
	for _, f := range []string{"--cache-from", "--cache-to"} {
		if rest, ok := strings.CutPrefix(msg, f+" "); ok {
			return strings.ReplaceAll(f[2:], "-", "_") + " " + rest
		}
	}
	return msg
}

// inBuildDir makes the relative paths of a spec from the build file
// relative to its folder, as every path in the build file is.
func (s *Session) inBuildDir(sp cache.Spec) cache.Spec {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(s.cfg.Dir, p)
	}
	sp.Dir, sp.Key = abs(sp.Dir), abs(sp.Key)
	sp.Trusted = slices.Clone(sp.Trusted)
	for i, t := range sp.Trusted {
		sp.Trusted[i] = abs(t)
	}
	return sp
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
				return fmt.Errorf("the build succeeded, but exporting to the required %s failed: %s", sp, cache.Explain(err))
			}
			s.emit(Event{Kind: Warning, Message: fmt.Sprintf("exporting to %s failed, the build is unaffected: %s", sp, cache.Explain(err))})
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
		return nil, &UsageError{Err: fmt.Errorf("no cache to verify against: give --cache-from (or KILN_CACHE_FROM, or cache_from in the build file's kiln block)")}
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
