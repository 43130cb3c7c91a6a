package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/realize/executor/bkhelper"
	"github.com/kiln-build/kiln/store"
)

// LLB compiles the one state targets name (a single target and
// platform) into a BuildKit LLB definition for `kiln llb`, in the form
// `buildctl build` reads. The sources it reads are fetched into the
// store first: the definition names them as local sources, with the
// store directories in the returned Locals. The translation itself
// (realize/llbgraph) runs in the kiln-buildkit helper, which links
// BuildKit's client: kiln sends it the root's closure.
func (s *Session) LLB(ctx context.Context, targets []string) ([]byte, []bkhelper.Local, error) {
	helper, err := s.buildKitHelper()
	if err != nil {
		return nil, nil, err
	}
	st, err := s.Store()
	if err != nil {
		return nil, nil, err
	}
	graph, err := s.compile(targets, st)
	if err != nil {
		return nil, nil, err
	}
	var states []string
	var root digest.Digest
	var plat string
	for _, t := range graph.Targets {
		for _, pl := range t.Platforms {
			states = append(states, t.Address+" ("+pl+")")
			root, plat = t.States[pl], pl
		}
	}
	if len(states) != 1 {
		return nil, nil, &UsageError{Err: fmt.Errorf("kiln llb prints one state, and these targets have %d: %s; name one target with one platform", len(states), strings.Join(states, ", "))}
	}
	req := &bkhelper.LLBRequest{Root: root, Platform: plat, Nodes: map[digest.Digest]bkhelper.Node{}, Sources: map[digest.Digest]bkhelper.SourceLayer{}}
	var sources []digest.Digest
	if root != "" {
		for _, d := range graph.Closure(root) {
			drv := graph.Nodes[d]
			b, err := drv.Canonical()
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", drv.Name, err)
			}
			req.Nodes[d] = bkhelper.Node{Name: drv.Name, Derivation: json.RawMessage(b)}
			if drv.Kind == compiler.KindSource {
				sources = append(sources, d)
			}
		}
	}
	outs := map[digest.Digest]store.Output{}
	if len(sources) > 0 {
		outs, err = s.realize(ctx, st, graph, sources, nil, realize.Options{Jobs: s.opts.Jobs, Dir: s.cfg.Dir})
		if err != nil {
			return nil, nil, err
		}
	}
	for _, d := range sources {
		out := outs[d]
		var src bkhelper.SourceLayer
		for _, l := range out.Layers {
			src.Dirs = append(src.Dirs, st.LayerPath(l))
		}
		if c := out.Meta[realize.MetaImageConfig]; c != "" {
			b, err := os.ReadFile(st.BlobPath(digest.Digest(c)))
			if err != nil {
				return nil, nil, err
			}
			var cfg ocispec.Image
			if err := json.Unmarshal(b, &cfg); err != nil {
				return nil, nil, err
			}
			src.Env = cfg.Config.Env
		}
		req.Sources[d] = src
	}
	return helper.LLB(ctx, req)
}
