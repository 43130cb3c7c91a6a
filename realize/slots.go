package realize

import (
	"container/heap"
	"context"
	"math"
	"sync"

	"github.com/opencontainers/go-digest"
)

// slots are a build's job slots. A freed slot goes to the waiting step
// with the highest priority (the longest chain of steps still to build
// behind it), not to the step that has waited longest: in a fan of steps
// merged by a chain of copies, the copies then run while the fan still
// does, instead of all of them after it (issue 20, docs/performance.md).
// Among equal priorities, and under Options.Shuffle where all are equal,
// the first to wait goes first.
type slots struct {
	mu   sync.Mutex
	free int
	seq  uint64
	wait waiters
}

func newSlots(n int) *slots {
	return &slots{free: n}
}

type waiter struct {
	prio int
	seq  uint64
	got  chan struct{} // closed when the slot is handed over
	idx  int           // in the heap; -1 once handed a slot or gone
}

// retakePrio puts a step taking back a slot it gave up (to wait for
// another process, or for its inputs) ahead of every step not started.
const retakePrio = math.MaxInt

// take waits for a slot, serving higher prio first. It fails only when
// ctx is done first, holding no slot.
func (s *slots) take(ctx context.Context, prio int) error {
	s.mu.Lock()
	if s.free > 0 && len(s.wait) == 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	w := &waiter{prio: prio, seq: s.seq, got: make(chan struct{})}
	s.seq++
	heap.Push(&s.wait, w)
	s.mu.Unlock()
	select {
	case <-w.got:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		if w.idx >= 0 {
			heap.Remove(&s.wait, w.idx)
			s.mu.Unlock()
			return context.Cause(ctx)
		}
		s.mu.Unlock()
		// Handed a slot while ctx ended: pass it on.
		s.give()
		return context.Cause(ctx)
	}
}

// retake waits for a slot ahead of every step not yet started, whatever
// any context says: holders of the other slots finish or stop.
func (s *slots) retake() {
	_ = s.take(context.Background(), retakePrio)
}

// give frees a slot, handing it to the first waiter.
func (s *slots) give() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.wait) == 0 {
		s.free++
		return
	}
	w := heap.Pop(&s.wait).(*waiter)
	close(w.got)
}

// handOff passes the job slot of n, which has just been built, straight
// to the dependent of n it has made ready to build (every other input
// done, none failed), if that dependent's priority is at least that of
// every step waiting: the one with the highest priority, that is. It
// reports whether it did; if not, the caller gives the slot back.
//
// Without it the slot is given back before n's dependents have woken
// (they are told n is done once its builder returns) and goes to a step
// already waiting even when a dependent ranks higher: in the fan of
// issue 20, each copy of the merge chain waited for the next fan step to
// end instead of running as soon as its own had.
func (s *slots) handOff(n *node) bool {
	var best *node
	for _, d := range n.dependents {
		if d.remote || best != nil && d.prio <= best.prio {
			continue
		}
		ready := true
		for _, in := range d.inputs {
			if in != n && (!in.finished() || in.err != nil) {
				ready = false
				break
			}
		}
		if ready {
			best = d
		}
	}
	if best == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.wait) > 0 && s.wait[0].prio > best.prio {
		return false
	}
	// Two inputs finishing at once cannot both see the other done (each
	// is done only once its builder returns), but make sure.
	return best.handed.CompareAndSwap(false, true)
}

type waiters []*waiter

func (h waiters) Len() int { return len(h) }
func (h waiters) Less(i, j int) bool {
	if h[i].prio != h[j].prio {
		return h[i].prio > h[j].prio
	}
	return h[i].seq < h[j].seq
}
func (h waiters) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *waiters) Push(x any) {
	w := x.(*waiter)
	w.idx = len(*h)
	*h = append(*h, w)
}
func (h *waiters) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	w.idx = -1
	return w
}

// linkDependents links each node to build to its inputs and its inputs to
// it, and records its priority, for handOff. order is topological.
func linkDependents(order []digest.Digest, nodes map[digest.Digest]*node, prio map[digest.Digest]int) {
	for _, d := range order {
		n, ok := nodes[d]
		if !ok || n.finished() {
			continue
		}
		n.prio = prio[d]
		n.inputs = make([]*node, 0, len(n.drv.Inputs))
		for _, in := range n.drv.Inputs {
			if dep, ok := nodes[in]; ok {
				n.inputs = append(n.inputs, dep)
				dep.dependents = append(dep.dependents, n)
			}
		}
	}
}

// chainLengths gives each node to build the number of nodes to build on
// the longest path from it to a root, itself included: the steps that
// can start no earlier than it ends, one after another. order is
// topological (inputs first).
func chainLengths(order []digest.Digest, nodes map[digest.Digest]*node) map[digest.Digest]int {
	length := make(map[digest.Digest]int, len(nodes))
	for i := len(order) - 1; i >= 0; i-- {
		n, ok := nodes[order[i]]
		if !ok || n.finished() {
			continue
		}
		l := length[n.dg] + 1
		length[n.dg] = l
		for _, in := range n.drv.Inputs {
			if length[in] < l {
				length[in] = l
			}
		}
	}
	return length
}
