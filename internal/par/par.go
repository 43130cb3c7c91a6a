// Package par runs a loop's iterations on every core. Items are handed
// out one at a time, so that a busy core (these machines are shared) or
// one large item does not leave the others idle at the end.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Workers is how many goroutines Each and EachWorker run for n items.
func Workers(n int) int { return min(runtime.GOMAXPROCS(0), n) }

// Each calls fn(i) for every i in [0, n) on every core and waits.
func Each(n int, fn func(i int)) {
	EachWorker(n, func(_, i int) { fn(i) })
}

// EachWorker is Each telling fn which of the workers, numbered from 0 to
// Workers(n)-1, runs it: no two calls with the same worker overlap, so
// that fn can keep per-worker scratch space.
func EachWorker(n int, fn func(worker, i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range Workers(n) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(w, i)
			}
		})
	}
	wg.Wait()
}
