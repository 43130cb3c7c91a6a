package compiler

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/lang"
)

// Compiling ahead: a target's stages are lowered on worker goroutines,
// each as soon as the stages it needs are, into logs of what the serial
// compiler would do (visit a state, add a derivation with its digest).
// stage and state then replay the logs in the serial compiler's order, so
// the graph, its nodes' order and names, and the diagnostics are those of
// a serial compile: a stage with any diagnostic is not kept, and the
// serial compiler lowers it (and what needs it) again itself.

// minAhead is the fewest stages a target needs before it is compiled
// ahead: below it, starting the workers costs more than they save.
const minAhead = 64

// event is one thing a stage's lowering did: visit a state (visit) or
// add the derivation d, whose digest is dg.
type event struct {
	visit bool
	ref   lang.Ref
	d     *Derivation
	dg    digest.Digest
}

// stageResult is a stage compiled ahead: its settings after its last
// step and what its lowering did.
type stageResult struct {
	r   *run
	log []event
}

// srcResult is a source compiled ahead, before the workers start.
type srcResult struct {
	dg    digest.Digest
	diags hcl.Diagnostics
	log   []event
}

// worker is a compiler's state on one worker goroutine (or while a
// source is compiled ahead). It reads the results of only the stages the
// one it lowers depends on: those alone are known to be done.
type worker struct {
	stages  []*lang.Stage
	results []*stageResult
	src     map[sourceState]*srcResult
	deps    []int32
	log     []event
}

// errAhead fails a lowering on a worker; the serial compiler then lowers
// the stage itself and reports what it finds.
var errAhead = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "not compiled ahead"}}

// add interns d in the graph, or on a worker records it.
func (c *compiler) add(d *Derivation) (digest.Digest, error) {
	if c.w == nil {
		return c.g.add(d)
	}
	dg, err := d.Digest()
	if err != nil {
		return "", err
	}
	c.w.log = append(c.w.log, event{d: d, dg: dg})
	return dg, nil
}

// endOf is the settings a compiled stage ended with, nil if unknown.
func (c *compiler) endOf(key stateKey) *run {
	if c.w == nil {
		return c.ends[key]
	}
	if r := c.w.result(key.stage); r != nil {
		return r.r
	}
	return nil
}

// result is the compiled dependency called name, nil if it is not one.
func (w *worker) result(name string) *stageResult {
	// A stage has a few dependencies: comparing their names is cheaper
	// than a look-up by name.
	for k := len(w.deps) - 1; k >= 0; k-- {
		if d := w.deps[k]; w.stages[d].Name == name {
			return w.results[d]
		}
	}
	return nil
}

// state is compiler.state on a worker.
func (w *worker) state(c *compiler, ref lang.Ref, platform string) (digest.Digest, hcl.Diagnostics) {
	var dg digest.Digest
	switch ref.Kind {
	case "":
		return "", nil
	case "source":
		r := w.src[sourceState{sourceKey{ref.Type, ref.Name}, platform}]
		if r == nil || len(r.diags) > 0 {
			return "", errAhead
		}
		dg = r.dg
	case "stage":
		r := w.result(ref.Name)
		if r == nil {
			return "", errAhead
		}
		dg = r.r.state
	default:
		return "", errAhead
	}
	w.log = append(w.log, event{visit: true, ref: ref})
	return dg, nil
}

// replay adds a stage compiled ahead to the graph as stage would have.
func (c *compiler) replay(key stateKey, r *stageResult) (digest.Digest, hcl.Diagnostics) {
	for _, e := range r.log {
		if !e.visit {
			c.g.addDigested(e.d, e.dg)
			continue
		}
		// Its inputs were compiled ahead without a diagnostic, so they
		// give none here; the check only keeps a bug from hiding.
		if _, d := c.state(e.ref, key.platform); d.HasErrors() {
			return "", d
		}
	}
	c.done[key] = r.r.state
	c.ends[key] = r.r
	return r.r.state, nil
}

// replayAdds adds a source's derivations compiled ahead.
func (c *compiler) replayAdds(log []event) {
	for _, e := range log {
		if !e.visit {
			c.g.addDigested(e.d, e.dg)
		}
	}
}

// stateRefs calls f with every state st's lowering may visit.
func stateRefs(st *lang.Stage, f func(lang.Ref)) {
	f(st.From)
	for _, s := range st.Steps {
		if s.Kind == "copy" {
			f(s.From)
		}
		for _, m := range s.Mounts {
			if m.Type == "input" {
				f(m.From)
			}
		}
	}
}

// compileAhead compiles the stages from needs on platform on worker
// goroutines, filling c.pre and c.srcPre for stage and state to replay.
// It does nothing for small targets, on one CPU, or when a stage sets
// its own platform (one stage may then be lowered for several).
func (c *compiler) compileAhead(from lang.Ref, platform string) {
	workers := runtime.GOMAXPROCS(0)
	if c.pre != nil || workers < 2 || from.Kind != "stage" || len(c.cfg.Stages) < minAhead {
		return
	}
	stages := c.cfg.Stages
	index := make(map[string]int32, len(stages))
	for i, st := range stages {
		if st.Platform != "" {
			return
		}
		index[st.Name] = int32(i) // the last of a name, as c.stages
	}
	root, ok := index[from.Name]
	if !ok {
		return
	}
	// The stages from needs, each with its dependencies, and the
	// sources they use in the order the serial compiler would meet them.
	deps := make([][]int32, len(stages))
	seen := make([]bool, len(stages))
	var order []int32
	var srcs []sourceState
	srcSeen := map[sourceState]bool{}
	stack := []int32{root}
	seen[root] = true
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		order = append(order, i)
		stateRefs(stages[i], func(ref lang.Ref) {
			switch ref.Kind {
			case "source":
				k := sourceState{sourceKey{ref.Type, ref.Name}, platform}
				if !srcSeen[k] {
					srcSeen[k] = true
					srcs = append(srcs, k)
				}
			case "stage":
				j, ok := index[ref.Name]
				if !ok {
					return
				}
				for _, d := range deps[i] {
					if d == j {
						return
					}
				}
				deps[i] = append(deps[i], j)
				if !seen[j] {
					seen[j] = true
					stack = append(stack, j)
				}
			}
		})
	}
	if len(order) < minAhead {
		return
	}
	// Sources first, here: the local ones hash trees through
	// opts.LocalHash, which is not asked to be safe for concurrent use.
	c.srcPre = make(map[sourceState]*srcResult, len(srcs))
	for _, k := range srcs {
		src, ok := c.sources[k.src]
		if !ok {
			continue
		}
		rc := *c
		rc.w = &worker{}
		dg, diags := rc.source(src, platform)
		c.srcPre[k] = &srcResult{dg, diags, rc.w.log}
	}
	// Kahn's algorithm on the workers; the stages of a cycle never get
	// ready, so the serial count says when all that can be done is.
	pending := make([]int32, len(stages))
	users := make([][]int32, len(stages))
	for _, i := range order {
		pending[i] = int32(len(deps[i]))
		for _, d := range deps[i] {
			users[d] = append(users[d], i)
		}
	}
	ready := make(chan int32, len(order))
	left := int32(0)
	{
		p := make([]int32, len(stages))
		copy(p, pending)
		q := make([]int32, 0, len(order))
		for _, i := range order {
			if p[i] == 0 {
				q = append(q, i)
				ready <- i
			}
		}
		for k := 0; k < len(q); k++ {
			for _, u := range users[q[k]] {
				if p[u]--; p[u] == 0 {
					q = append(q, u)
				}
			}
		}
		left = int32(len(q))
	}
	if left == 0 {
		return
	}
	c.epochEnv() // made once here, not raced for by the workers
	results := make([]*stageResult, len(stages))
	var wg sync.WaitGroup
	for range min(workers, int(left)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{stages: stages, results: results, src: c.srcPre}
			wc := *c
			wc.w, wc.g = w, nil
			wc.done, wc.ends, wc.srcDone, wc.busy, wc.pre = nil, nil, nil, nil, nil
			for i := range ready {
				st := stages[i]
				w.deps = deps[i]
				w.log = make([]event, 0, 2*len(st.Steps)+2)
				if r, diags := wc.lower(st, platform); len(diags) == 0 {
					results[i] = &stageResult{r, w.log}
				}
				for _, u := range users[i] {
					if atomic.AddInt32(&pending[u], -1) == 0 {
						ready <- u
					}
				}
				if atomic.AddInt32(&left, -1) == 0 {
					close(ready)
				}
			}
		}()
	}
	wg.Wait()
	c.pre = make(map[stateKey]*stageResult, len(order))
	for _, i := range order {
		if r := results[i]; r != nil {
			c.pre[stateKey{stages[i].Name, platform}] = r
		}
	}
	if compiledAhead != nil {
		compiledAhead(len(order), len(c.pre))
	}
}

// compiledAhead, when set (by tests), learns how many stages each
// compileAhead found the target needs and how many its workers lowered.
var compiledAhead func(needed, lowered int)
