package engine

import (
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

// Statuses of a derivation in a plan.
const (
	StatusCached = "cached" // in the store
	// StatusCachedRemote: in the store, fetched from a shared cache.
	StatusCachedRemote = "cached (remote)"
	StatusToBuild      = "to build"   // a build would realize it
	StatusUnresolved   = "unresolved" // a source it needs has no pin
)

// PlanEntry is one derivation a build needs, as kiln plan --json prints it.
type PlanEntry struct {
	Digest      digest.Digest   `json:"digest"`
	Kind        compiler.Kind   `json:"kind"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Status      string          `json:"status"`
	Inputs      []digest.Digest `json:"inputs,omitempty"`
}

// Plan is what a build of the targets would do, inputs first.
type Plan struct {
	Graph   *compiler.Graph
	Entries []PlanEntry
}

// Plan compiles the targets and says which derivations the store already
// has. It opens the store only when it exists. It checks the cache specs
// as Build does, without contacting any cache.
func (s *Session) Plan(targets []string) (*Plan, error) {
	s.started(PhaseOpenStore)
	st, err := s.storeIfExists()
	s.finished(PhaseOpenStore)
	if err != nil {
		return nil, err
	}
	graph, err := s.compile(targets, st)
	if err != nil {
		return nil, err
	}
	// A bad cache spec (KILN_CACHE_*, the build file's cache_from or
	// cache_to) is reported as a build would, so that plan catches it
	// first; only parsed: no cache is asked anything.
	if _, _, err := s.cacheSpecs(); err != nil {
		return nil, err
	}
	s.started(PhaseLookUp)
	defer s.finished(PhaseLookUp)
	entries, err := planEntries(graph, st)
	if err != nil {
		return nil, err
	}
	return &Plan{Graph: graph, Entries: entries}, nil
}

func planEntries(graph *compiler.Graph, st *store.Store) ([]PlanEntry, error) {
	order, nodes := graph.ClosureNodes(compiler.TargetRoots(graph.Targets)...)
	cached := map[digest.Digest]store.Output{}
	if st != nil {
		var err error
		if cached, err = st.LookupMany(order); err != nil {
			return nil, err
		}
	}
	entries := make([]PlanEntry, 0, len(order))
	for i, d := range order {
		n := nodes[i]
		status := StatusToBuild
		if n.Unresolved {
			status = StatusUnresolved
		} else if out, ok := cached[d]; ok {
			status = StatusCached
			if out.Meta[realize.MetaOrigin] == "remote" {
				status = StatusCachedRemote
			}
		}
		entries = append(entries, PlanEntry{Digest: d, Kind: n.Kind, Name: n.Name, Description: n.Description, Status: status, Inputs: n.Inputs})
	}
	return entries, nil
}
