package compiler

import (
	"container/heap"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestSortTopoMatchesReference checks sortTopo against a plain Kahn's
// algorithm with a heap of digests on random graphs, including repeated
// inputs and an input that is not a node: plans list nodes in this order,
// so it must never change.
func TestSortTopoMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for round := 0; round < 20; round++ {
		g := newGraph(0)
		var ds []digest.Digest
		for i := 0; i < 300; i++ {
			d := digest.FromString(fmt.Sprint(round, i))
			n := &Derivation{}
			for k := r.Intn(4); k > 0 && len(ds) > 0; k-- {
				n.Inputs = append(n.Inputs, ds[r.Intn(len(ds))])
			}
			if r.Intn(50) == 0 && len(n.Inputs) > 0 {
				n.Inputs = append(n.Inputs, n.Inputs[0])
			}
			if r.Intn(100) == 0 {
				n.Inputs = append(n.Inputs, digest.FromString("absent"))
			}
			g.Nodes[d] = n
			ds = append(ds, d)
		}
		want := referenceOrder(g)
		g.sortTopo()
		if !slices.Equal(g.Order, want) {
			t.Fatalf("round %d: order differs from the reference", round)
		}
	}
}

func referenceOrder(g *Graph) []digest.Digest {
	indeg := map[digest.Digest]int{}
	users := map[digest.Digest][]digest.Digest{}
	for d, n := range g.Nodes {
		seen := map[digest.Digest]bool{}
		for _, in := range n.Inputs {
			if !seen[in] {
				seen[in] = true
				indeg[d]++
				users[in] = append(users[in], d)
			}
		}
	}
	ready := &refHeap{}
	for d := range g.Nodes {
		if indeg[d] == 0 {
			heap.Push(ready, d)
		}
	}
	var order []digest.Digest
	for ready.Len() > 0 {
		d := heap.Pop(ready).(digest.Digest)
		order = append(order, d)
		for _, u := range users[d] {
			if indeg[u]--; indeg[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	return order
}

type refHeap []digest.Digest

func (h refHeap) Len() int           { return len(h) }
func (h refHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h refHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *refHeap) Push(x any)        { *h = append(*h, x.(digest.Digest)) }
func (h *refHeap) Pop() any {
	x := (*h)[len(*h)-1]
	*h = (*h)[:len(*h)-1]
	return x
}

// TestClosureMatchesByDigest checks Closure on positions against the
// walk over digests it replaced, on random graphs and random roots.
func TestClosureMatchesByDigest(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for round := 0; round < 20; round++ {
		g := newGraph(0)
		var ds []digest.Digest
		for i := 0; i < 300; i++ {
			n := &Derivation{Name: fmt.Sprint(round, i)}
			for k := r.Intn(4); k > 0 && len(ds) > 0; k-- {
				n.Inputs = append(n.Inputs, ds[r.Intn(len(ds))])
			}
			d, err := g.add(n)
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		g.sortTopo()
		roots := []digest.Digest{"", ds[r.Intn(len(ds))], ds[r.Intn(len(ds))], ds[len(ds)-1]}
		if got, want := g.Closure(roots...), g.closureByDigest(roots); !slices.Equal(got, want) {
			t.Fatalf("round %d: Closure %d nodes, by digest %d", round, len(got), len(want))
		}
	}
}
