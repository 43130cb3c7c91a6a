package main

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/store"
)

// The types and runBuild here are what export.go, verify.go and the
// golden recorder read of a build while they still live in package main;
// they go when those take an *engine.Session and *engine.Result.

// project is a loaded build file as export.go and verify.go read it.
type project struct {
	cfg   *lang.Config
	epoch int64
}

// buildResult is a finished build. st is the session's store: closing it
// ends the session.
type buildResult struct {
	st     *store.Store
	graph  *compiler.Graph
	proj   *project
	outs   map[digest.Digest]store.Output
	phases *phases
}

func newBuildResult(s *engine.Session, res *engine.Result, r *renderer) *buildResult {
	epoch, _ := s.Epoch()
	ph := r.phases
	if ph == nil {
		ph = &phases{}
	}
	return &buildResult{st: res.Store, graph: res.Graph, proj: &project{cfg: s.Config(), epoch: epoch}, outs: res.Outputs, phases: ph}
}

// runBuild loads, compiles and realizes as kiln build does; the caller
// closes res.st.
func runBuild(ctx context.Context, g *globals, f buildFlags, targets []string) (*buildResult, error) {
	r, err := newBuildRenderer(g, true)
	if err != nil {
		return nil, err
	}
	s, err := g.open(r, &f)
	if err != nil {
		return nil, err
	}
	res, err := build(ctx, s, targets)
	if err != nil {
		s.Close()
		return nil, err
	}
	return newBuildResult(s, res, r), nil
}
