package compiler

import (
	"container/heap"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Graph is the compiled build: derivations by digest, each stored once no
// matter how many stages share it, plus the targets that were asked for.
type Graph struct {
	Nodes map[digest.Digest]*Derivation
	// Order lists every node with inputs before their dependents. Ties are
	// broken by digest so that the order never depends on map iteration.
	Order   []digest.Digest
	Targets []*Target
}

// Target is one exportable or inspectable result: an image, an artifact or
// a bare stage, realized for each of its platforms.
type Target struct {
	Kind    string // image, artifact, stage
	Name    string
	Address string
	// Platforms in declared order, and the state each one compiles to.
	// A state digest of "" is the empty state (scratch).
	Platforms []string
	States    map[string]digest.Digest
}

func newGraph() *Graph {
	return &Graph{Nodes: map[digest.Digest]*Derivation{}}
}

// add interns d, returning its digest. A derivation added twice (two stages
// sharing a step, a source used everywhere) is kept once.
func (g *Graph) add(d *Derivation) (digest.Digest, error) {
	for _, in := range d.Inputs {
		if n, ok := g.Nodes[in]; ok && n.Unresolved {
			d.Unresolved = true
		}
	}
	dg, err := d.Digest()
	if err != nil {
		return "", fmt.Errorf("%s: %w", d.Name, err)
	}
	if _, ok := g.Nodes[dg]; !ok {
		g.Nodes[dg] = d
	}
	return dg, nil
}

// Closure returns the nodes needed for roots, in topological order.
func (g *Graph) Closure(roots ...digest.Digest) []digest.Digest {
	need := map[digest.Digest]bool{}
	var visit func(digest.Digest)
	visit = func(d digest.Digest) {
		if d == "" || need[d] {
			return
		}
		need[d] = true
		for _, in := range g.Nodes[d].Inputs {
			visit(in)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	out := make([]digest.Digest, 0, len(need))
	for _, d := range g.Order {
		if need[d] {
			out = append(out, d)
		}
	}
	return out
}

// TargetRoots returns every state digest of the given targets.
func TargetRoots(ts []*Target) []digest.Digest {
	var roots []digest.Digest
	for _, t := range ts {
		for _, p := range t.Platforms {
			if s := t.States[p]; s != "" {
				roots = append(roots, s)
			}
		}
	}
	return roots
}

// sortTopo fills g.Order: Kahn's algorithm with a min-heap frontier, so
// ties are broken by digest and the order never depends on map iteration.
func (g *Graph) sortTopo() {
	indeg := make(map[digest.Digest]int, len(g.Nodes))
	users := make(map[digest.Digest][]digest.Digest, len(g.Nodes))
	for d, n := range g.Nodes {
		seen := map[digest.Digest]bool{}
		for _, in := range n.Inputs {
			if seen[in] {
				continue
			}
			seen[in] = true
			indeg[d]++
			users[in] = append(users[in], d)
		}
	}
	ready := &digestHeap{}
	for d := range g.Nodes {
		if indeg[d] == 0 {
			*ready = append(*ready, d)
		}
	}
	heap.Init(ready)
	order := make([]digest.Digest, 0, len(g.Nodes))
	for ready.Len() > 0 {
		d := heap.Pop(ready).(digest.Digest)
		order = append(order, d)
		for _, u := range users[d] {
			indeg[u]--
			if indeg[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	g.Order = order
}

type digestHeap []digest.Digest

func (h digestHeap) Len() int           { return len(h) }
func (h digestHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h digestHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *digestHeap) Push(x any)        { *h = append(*h, x.(digest.Digest)) }
func (h *digestHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
