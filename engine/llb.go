package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/realize/llbgraph"
	"github.com/kiln-build/kiln/store"
)

// LLB compiles the one state targets name (a single target and
// platform) into a BuildKit LLB definition for `kiln llb`. The sources
// it reads are fetched into the store first: the definition names them
// as local sources, with the store directories in the returned Locals.
func (s *Session) LLB(ctx context.Context, targets []string) (*llb.Definition, []llbgraph.Local, error) {
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
	var sources []digest.Digest
	if root != "" {
		for _, d := range graph.Closure(root) {
			if graph.Nodes[d].Kind == compiler.KindSource {
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
	state, locals, err := llbgraph.Translate(graph, root, func(d digest.Digest) ([]string, []string, error) {
		out := outs[d]
		var dirs []string
		for _, l := range out.Layers {
			dirs = append(dirs, st.LayerPath(l))
		}
		var env []string
		if c := out.Meta[realize.MetaImageConfig]; c != "" {
			b, err := os.ReadFile(st.BlobPath(digest.Digest(c)))
			if err != nil {
				return nil, nil, err
			}
			var cfg ocispec.Image
			if err := json.Unmarshal(b, &cfg); err != nil {
				return nil, nil, err
			}
			env = cfg.Config.Env
		}
		return dirs, env, nil
	})
	if err != nil {
		return nil, nil, err
	}
	osName, arch, _ := strings.Cut(plat, "/")
	arch, variant, _ := strings.Cut(arch, "/")
	def, err := state.Marshal(ctx, llb.Platform(ocispec.Platform{OS: osName, Architecture: arch, Variant: variant}))
	if err != nil {
		return nil, nil, err
	}
	return def, locals, nil
}
