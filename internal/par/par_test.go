package par

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// TestEachWorker checks that every item runs once, that worker numbers
// stay in range, and that one worker's calls never overlap.
func TestEachWorker(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		seen := make([]atomic.Int32, n)
		busy := make([]atomic.Bool, Workers(n))
		EachWorker(n, func(w, i int) {
			if w < 0 || w >= Workers(n) {
				t.Errorf("n=%d: worker %d out of range", n, w)
				return
			}
			if busy[w].Swap(true) {
				t.Errorf("n=%d: worker %d runs two items at once", n, w)
			}
			seen[i].Add(1)
			runtime.Gosched()
			busy[w].Store(false)
		})
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Errorf("n=%d: item %d ran %d times", n, i, c)
			}
		}
	}
}
