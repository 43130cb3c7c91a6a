package compiler

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

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

	// The nodes in the order add interned them, each with its inputs as
	// positions in that order (-1: not a node), so that sortTopo needs no
	// map look-ups: on tens of thousands of nodes those were a large part
	// of compile time.
	// A node's position is also its Derivation's at, so that Nodes
	// is the only map of digests add keeps.
	seq []digest.Digest
	// byDigest is the positions of a graph built by hand, which has no
	// sums (index makes it).
	byDigest map[digest.Digest]int32
	// sums[i] is seq[i]'s sha256 when add made seq, so that sortTopo
	// compares 8-byte numbers, not 71-byte strings sharing 7 bytes.
	sums [][sha256.Size]byte
	// orderPos[i] is Order[i]'s position, so that Closure looks none up.
	orderPos []int32
	// nodes[i] is Nodes[seq[i]], so that add reads an input's node by
	// its position instead of a second look-up in a map of 71-byte keys.
	nodes []*Derivation
	// unresolved[i] is nodes[i].Unresolved when addAt interned it, read
	// for each input without touching its Derivation (a cache miss).
	unresolved []bool
	// inputs holds every node's input positions back to back (one
	// allocation, not one per node); node i's end at inEnd[i].
	inputs []int32
	inEnd  []int32
}

// inputsOf returns the input positions of node i.
func (g *Graph) inputsOf(i int) []int32 {
	start := int32(0)
	if i > 0 {
		start = g.inEnd[i-1]
	}
	return g.inputs[start:g.inEnd[i]]
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
	// Export is how the target is exported; nil for stages.
	Export *Export
}

// newGraph returns an empty graph sized for about n nodes.
func newGraph(n int) *Graph {
	return &Graph{
		Nodes: make(map[digest.Digest]*Derivation, n),
		seq:   make([]digest.Digest, 0, n), sums: make([][sha256.Size]byte, 0, n), nodes: make([]*Derivation, 0, n), unresolved: make([]bool, 0, n), inEnd: make([]int32, 0, n), inputs: make([]int32, 0, n),
	}
}

// lookup returns the position of the node with digest d.
func (g *Graph) lookup(d digest.Digest) (int32, bool) {
	if g.byDigest != nil {
		p, ok := g.byDigest[d]
		return p, ok
	}
	n, ok := g.Nodes[d]
	if !ok {
		return -1, false
	}
	return g.posOf(n), true
}

// posOf is the position of n, a node of g that add interned.
func (g *Graph) posOf(n *Derivation) int32 {
	if p := n.at; p >= 0 && int(p) < len(g.nodes) && g.nodes[p] == n {
		return p
	}
	// n.at is another graph's (a derivation added to two graphs).
	return int32(slices.Index(g.nodes, n))
}

// add interns d, returning its digest. A derivation added twice (two stages
// sharing a step, a source used everywhere) is kept once.
func (g *Graph) add(d *Derivation) (digest.Digest, error) {
	ins := make([]int32, len(d.Inputs))
	for i, in := range d.Inputs {
		ins[i], _ = g.lookup(in)
	}
	dg, _, err := g.addAt(d, ins)
	return dg, err
}

// addAt is add for a caller that knows the positions of d's inputs
// (ins[i] is d.Inputs[i]'s, -1 if it is not a node): the compiler keeps
// each state's position beside its digest, so that adding 46,000 nodes
// looks none of their inputs up. It returns d's digest and position.
func (g *Graph) addAt(d *Derivation, ins []int32) (digest.Digest, int32, error) {
	if len(ins) != len(d.Inputs) {
		// A compiler bug, not bad input: misaligned positions would
		// wire the graph wrongly without a word.
		return "", -1, fmt.Errorf("%s: %d input positions for %d inputs", d.Name, len(ins), len(d.Inputs))
	}
	// The positions are appended where a new node's go, and dropped
	// again if d turns out to be a node already.
	mark := len(g.inputs)
	g.inputs = append(g.inputs, ins...)
	for _, p := range ins {
		if p >= 0 && g.unresolved[p] {
			d.Unresolved = true
		}
	}
	sum, err := d.sum()
	if err != nil {
		g.inputs = g.inputs[:mark]
		return "", -1, fmt.Errorf("%s: %w", d.Name, err)
	}
	dg := digestOf(&sum)
	if n, ok := g.Nodes[dg]; ok {
		g.inputs = g.inputs[:mark]
		return dg, g.posOf(n), nil
	}
	p := int32(len(g.seq))
	d.at = p
	g.Nodes[dg] = d
	g.seq = append(g.seq, dg)
	g.sums = append(g.sums, sum)
	g.nodes = append(g.nodes, d)
	g.unresolved = append(g.unresolved, d.Unresolved)
	if g.byDigest != nil {
		g.byDigest[dg] = p
	}
	g.inEnd = append(g.inEnd, int32(len(g.inputs)))
	return dg, p, nil
}

// index fills seq, byDigest and inputs from Nodes when add did not (a
// Graph built by hand), in digest order.
func (g *Graph) index() {
	if len(g.seq) == len(g.Nodes) {
		return
	}
	g.sums = nil
	g.seq = make([]digest.Digest, 0, len(g.Nodes))
	for d := range g.Nodes {
		g.seq = append(g.seq, d)
	}
	slices.Sort(g.seq)
	g.byDigest = make(map[digest.Digest]int32, len(g.seq))
	g.nodes = make([]*Derivation, len(g.seq))
	g.unresolved = make([]bool, len(g.seq))
	for i, d := range g.seq {
		g.byDigest[d] = int32(i)
		g.nodes[i] = g.Nodes[d]
		g.unresolved[i] = g.nodes[i].Unresolved
	}
	g.inputs, g.inEnd = g.inputs[:0], g.inEnd[:0]
	for _, d := range g.seq {
		for _, in := range g.Nodes[d].Inputs {
			if p, ok := g.byDigest[in]; ok {
				g.inputs = append(g.inputs, p)
			} else {
				g.inputs = append(g.inputs, -1)
			}
		}
		g.inEnd = append(g.inEnd, int32(len(g.inputs)))
	}
}

// Closure returns the nodes needed for roots, in topological order.
func (g *Graph) Closure(roots ...digest.Digest) []digest.Digest {
	out, _ := g.closure(roots, false)
	return out
}

// ClosureNodes is Closure with each digest's derivation beside it, so
// that a caller walking a plan of 46,000 nodes does not look each up in
// Nodes again.
func (g *Graph) ClosureNodes(roots ...digest.Digest) ([]digest.Digest, []*Derivation) {
	return g.closure(roots, true)
}

func (g *Graph) closure(roots []digest.Digest, withNodes bool) ([]digest.Digest, []*Derivation) {
	if len(g.seq) != len(g.Nodes) {
		out := g.closureByDigest(roots)
		if !withNodes {
			return out, nil
		}
		nodes := make([]*Derivation, len(out))
		for i, d := range out {
			nodes[i] = g.Nodes[d]
		}
		return out, nodes
	}
	// Marks by position and an explicit stack: a plan of 46,000 nodes
	// spent more in a map of digests (and a chain of 10,000 stages in
	// recursion) than in anything else of its look-up phase.
	need := make([]bool, len(g.seq))
	var stack []int32
	mark := func(p int32) {
		if p >= 0 && !need[p] {
			need[p] = true
			stack = append(stack, p)
		}
	}
	for _, r := range roots {
		if p, ok := g.lookup(r); ok {
			mark(p)
		}
	}
	n := 0
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n++
		for _, in := range g.inputsOf(int(p)) {
			mark(in)
		}
	}
	out := make([]digest.Digest, 0, n)
	var nodes []*Derivation
	if withNodes {
		nodes = make([]*Derivation, 0, n)
	}
	byPos := len(g.orderPos) == len(g.Order)
	for i, d := range g.Order {
		var p int32
		if byPos {
			p = g.orderPos[i]
		} else {
			p, _ = g.lookup(d)
		}
		if p >= 0 && need[p] {
			out = append(out, d)
			if withNodes {
				nodes = append(nodes, g.nodes[p])
			}
		}
	}
	return out, nodes
}

// closureByDigest is Closure for a graph built by hand, without add's
// positions.
func (g *Graph) closureByDigest(roots []digest.Digest) []digest.Digest {
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

// Chain lists state and the states it was built on, top first, down to
// the first that has no root (a source, or a step on scratch): what an
// image of state is layered from.
func (g *Graph) Chain(state digest.Digest) []digest.Digest {
	var chain []digest.Digest
	for d := state; d != ""; {
		chain = append(chain, d)
		n := g.Nodes[d]
		root := -1
		switch {
		case n.Exec != nil:
			root = n.Exec.Root
		case n.File != nil:
			root = n.File.Base
		}
		if root < 0 {
			break
		}
		d = n.Inputs[root]
	}
	return chain
}

// sortTopo fills g.Order: Kahn's algorithm with a min-heap frontier, so
// ties are broken by digest and the order never depends on map iteration.
// The heap holds each node's rank in digest order, a small integer.
func (g *Graph) sortTopo() {
	g.index()
	n := len(g.seq)
	byDigest := make([]int32, n) // rank -> node
	for i := range byDigest {
		byDigest[i] = int32(i)
	}
	if len(g.sums) == n {
		// The sums sort as their hex digests do (lower-case hex keeps
		// byte order); their first 8 bytes as a number almost always
		// decide.
		// Sorted with the node beside its key, not through an index
		// into the keys: a comparison then reads no other memory.
		keys := make([]sortKey, n)
		for i := range g.sums {
			keys[i] = sortKey{binary.BigEndian.Uint64(g.sums[i][:8]), int32(i)}
		}
		slices.SortFunc(keys, func(a, b sortKey) int {
			if c := cmp.Compare(a.first, b.first); c != 0 {
				return c
			}
			return bytes.Compare(g.sums[a.node][:], g.sums[b.node][:])
		})
		for r, k := range keys {
			byDigest[r] = k.node
		}
	} else {
		slices.SortFunc(byDigest, func(a, b int32) int { return cmp.Compare(g.seq[a], g.seq[b]) })
	}
	rank := make([]int32, n) // node -> rank
	for r, i := range byDigest {
		rank[i] = int32(r)
	}
	// Each node's users, back to back (node j's from userEnd[j-1] to
	// userEnd[j]): counted first, then filled, so that 46,000 nodes do
	// not each grow a slice of their own.
	indeg := make([]int32, n)
	userEnd := make([]int32, n)
	for i := range n {
		ins := g.inputsOf(i)
		for k, in := range ins {
			if slices.Contains(ins[:k], in) {
				continue
			}
			// An input that is not a node keeps its user out of the
			// order, as it can never be ready.
			indeg[i]++
			if in >= 0 {
				userEnd[in]++
			}
		}
	}
	total := int32(0)
	for j := range userEnd {
		total += userEnd[j]
		userEnd[j] = total
	}
	users := make([]int32, total)
	fill := make([]int32, n) // node j's next slot, from its start
	for i := range n {
		ins := g.inputsOf(i)
		for k, in := range ins {
			if in < 0 || slices.Contains(ins[:k], in) {
				continue
			}
			start := int32(0)
			if in > 0 {
				start = userEnd[in-1]
			}
			users[start+fill[in]] = int32(i)
			fill[in]++
		}
	}
	var ready intHeap
	for i := range n {
		if indeg[i] == 0 {
			ready.push(rank[i])
		}
	}
	order := make([]digest.Digest, 0, n)
	orderPos := make([]int32, 0, n)
	for len(ready) > 0 {
		i := byDigest[ready.pop()]
		order = append(order, g.seq[i])
		orderPos = append(orderPos, i)
		start := int32(0)
		if i > 0 {
			start = userEnd[i-1]
		}
		for _, u := range users[start:userEnd[i]] {
			indeg[u]--
			if indeg[u] == 0 {
				ready.push(rank[u])
			}
		}
	}
	g.Order, g.orderPos = order, orderPos
}

// sortKey is a node and the first 8 bytes of its sum, for sortTopo.
type sortKey struct {
	first uint64
	node  int32
}

// intHeap is a binary min-heap of node numbers.
type intHeap []int32

func (h *intHeap) push(x int32) {
	*h = append(*h, x)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *intHeap) pop() int32 {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && a[l] < a[m] {
			m = l
		}
		if l+1 < n && a[l+1] < a[m] {
			m = l + 1
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
