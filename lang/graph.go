package lang

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// graph is a dependency graph with the source range of every edge, so a
// cycle can be reported at each place that makes it.
type graph struct {
	nodes []string // declaration order, for deterministic reports
	index map[string]int
	edges [][]graphEdge
	// out holds the targets of edges, node by node, as findCycles walks
	// them.
	out [][]int32
}

type graphEdge struct {
	via string // how the dependency is made: "from", "copy from", ...
	rng hcl.Range
}

func newGraph() *graph { return &graph{index: map[string]int{}} }

func (g *graph) addNode(n string) int {
	if i, ok := g.index[n]; ok {
		return i
	}
	g.index[n] = len(g.nodes)
	g.nodes = append(g.nodes, n)
	g.edges = append(g.edges, nil)
	g.out = append(g.out, nil)
	return len(g.nodes) - 1
}

func (g *graph) addEdge(from, to, via string, rng hcl.Range) {
	f, t := g.addNode(from), g.addNode(to)
	g.edges[f] = append(g.edges[f], graphEdge{via: via, rng: rng})
	g.out[f] = append(g.out[f], int32(t))
}

// postorder lists nodes so that each comes after everything it depends on
// (cycles broken arbitrarily but deterministically).
func (g *graph) postorder() []string {
	out := make([]string, 0, len(g.nodes))
	state := make([]byte, len(g.nodes))
	// Iterative, as chains of 10,000 stages are normal.
	type frame struct{ n, next int }
	for root := range g.nodes {
		if state[root] != 0 {
			continue
		}
		stack := []frame{{root, 0}}
		state[root] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < len(g.out[top.n]) {
				to := int(g.out[top.n][top.next])
				top.next++
				if state[to] == 0 {
					state[to] = 1
					stack = append(stack, frame{to, 0})
				}
				continue
			}
			state[top.n] = 2
			out = append(out, g.nodes[top.n])
			stack = stack[:len(stack)-1]
		}
	}
	return out
}

// cycle is a closed path: nodes[i] leads to the next node (the last one
// to the first) by its edges[i]-th edge.
type cycle struct {
	nodes []int32
	edges []int32
}

// findCycles finds a set of cycles covering every back edge of a
// depth-first walk over the nodes 0 to len(out)-1, each reported once;
// node i's edges lead to out[i], in order. Nodes are numbered once and
// edges are plain indices, as a large build file's stage graph has tens
// of thousands of them.
func findCycles(out [][]int32) []cycle {
	var cs []cycle
	state := make([]byte, len(out))
	type frame struct{ n, next int32 }
	var stack []frame
	for root := range out {
		if state[root] != 0 {
			continue
		}
		stack = append(stack[:0], frame{int32(root), 0})
		state[root] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if int(top.next) >= len(out[top.n]) {
				state[top.n] = 2
				stack = stack[:len(stack)-1]
				continue
			}
			k := top.next
			to := out[top.n][k]
			top.next++
			switch state[to] {
			case 0:
				state[to] = 1
				stack = append(stack, frame{to, 0})
			case 1:
				// Back edge: the cycle is the stack from to up.
				start := len(stack) - 1
				for stack[start].n != to {
					start--
				}
				var c cycle
				for i := start; i < len(stack); i++ {
					c.nodes = append(c.nodes, stack[i].n)
					if i+1 < len(stack) {
						c.edges = append(c.edges, stack[i].next-1)
					}
				}
				c.edges = append(c.edges, k)
				cs = append(cs, c)
			}
		}
	}
	return cs
}

// reportCycles adds one diagnostic per position of each cycle of g, each
// listing the whole cycle, and returns the nodes on a cycle.
func (e *evaluator) reportCycles(g *graph, what string, addr func(string) string) map[string]bool {
	cs := findCycles(g.out)
	if len(cs) == 0 {
		return nil
	}
	on := map[string]bool{}
	for _, c := range cs {
		for _, n := range c.nodes {
			on[g.nodes[n]] = true
		}
	}
	e.reportCycleList(cs, what, func(n int32) string { return addr(g.nodes[n]) }, func(n, k int32) graphEdge { return g.edges[n][k] })
	return on
}

// reportCycleList adds one diagnostic per position of each cycle in cs,
// each listing the whole cycle. addr names node n; edge(n, k) is node n's
// k-th edge.
func (e *evaluator) reportCycleList(cs []cycle, what string, addr func(n int32) string, edge func(n, k int32) graphEdge) {
	for _, c := range cs {
		var b strings.Builder
		steps := make([]graphEdge, len(c.nodes))
		for i, n := range c.nodes {
			steps[i] = edge(n, c.edges[i])
			to := c.nodes[(i+1)%len(c.nodes)]
			via := "refers to"
			if steps[i].via != "" {
				via = "uses (" + steps[i].via + ")"
			}
			fmt.Fprintf(&b, "\n  %s %s %s at %s", addr(n), via, addr(to), steps[i].rng)
		}
		for i, n := range c.nodes {
			rng := steps[i].rng
			e.errorf(&rng, "Cycle between "+what,
				"%s depends on itself, through %d step(s):%s\nRemove one of these references to break the cycle.",
				addr(n), len(c.edges), b.String())
		}
	}
}
