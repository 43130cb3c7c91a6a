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
}

type graphEdge struct {
	to   int
	via  string // how the dependency is made: "from", "copy from", ...
	rng  hcl.Range
	seen bool
}

func newGraph() *graph { return &graph{index: map[string]int{}} }

func (g *graph) addNode(n string) int {
	if i, ok := g.index[n]; ok {
		return i
	}
	g.index[n] = len(g.nodes)
	g.nodes = append(g.nodes, n)
	g.edges = append(g.edges, nil)
	return len(g.nodes) - 1
}

func (g *graph) addEdge(from, to, via string, rng hcl.Range) {
	f, t := g.addNode(from), g.addNode(to)
	g.edges[f] = append(g.edges[f], graphEdge{to: t, via: via, rng: rng})
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
			if top.next < len(g.edges[top.n]) {
				to := g.edges[top.n][top.next].to
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

// cycle is a closed path: steps[i] goes from node[i] to node[i+1].
type cycle struct {
	nodes []int
	steps []graphEdge
}

// cycles finds a set of cycles covering every back edge of a depth-first
// walk, each reported once.
func (g *graph) cycles() []cycle {
	var out []cycle
	state := make([]byte, len(g.nodes))
	type frame struct{ n, next int }
	for root := range g.nodes {
		if state[root] != 0 {
			continue
		}
		stack := []frame{{root, 0}}
		state[root] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < len(g.edges[top.n]) {
				ed := g.edges[top.n][top.next]
				top.next++
				switch state[ed.to] {
				case 0:
					state[ed.to] = 1
					stack = append(stack, frame{ed.to, 0})
				case 1:
					// Back edge: the cycle is the stack from ed.to up.
					start := len(stack) - 1
					for stack[start].n != ed.to {
						start--
					}
					var c cycle
					for i := start; i < len(stack); i++ {
						n := stack[i].n
						c.nodes = append(c.nodes, n)
						if i+1 < len(stack) {
							c.steps = append(c.steps, g.edges[n][stack[i].next-1])
						}
					}
					c.steps = append(c.steps, ed)
					out = append(out, c)
				}
				continue
			}
			state[top.n] = 2
			stack = stack[:len(stack)-1]
		}
	}
	return out
}

// reportCycles adds one diagnostic per position of each cycle, each
// listing the whole cycle, and returns the nodes on a cycle.
func (e *evaluator) reportCycles(g *graph, what string, addr func(string) string) map[string]bool {
	cs := g.cycles()
	if len(cs) == 0 {
		return nil
	}
	on := map[string]bool{}
	for _, c := range cs {
		var b strings.Builder
		for i, st := range c.steps {
			from := addr(g.nodes[c.nodes[i]])
			to := addr(g.nodes[st.to])
			via := "refers to"
			if st.via != "" {
				via = "uses (" + st.via + ")"
			}
			fmt.Fprintf(&b, "\n  %s %s %s at %s", from, via, to, st.rng)
		}
		for i, st := range c.steps {
			on[g.nodes[c.nodes[i]]] = true
			rng := st.rng
			e.errorf(&rng, "Cycle between "+what,
				"%s depends on itself, through %d step(s):%s\nRemove one of these references to break the cycle.",
				addr(g.nodes[c.nodes[i]]), len(c.steps), b.String())
		}
	}
	return on
}
