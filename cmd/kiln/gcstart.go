package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
)

// startHeap is how much a kiln process may allocate before its first
// garbage collection.
const startHeap = 16 << 20

// deferFirstGC lets the heap grow to startHeap before the first
// collection, then hands the heap back to the default pacing (GOGC=100).
//
// Go collects first when the heap reaches 4 MB, and package
// initialisation alone allocates 2 MB: a no-op rebuild or a small plan,
// which allocate a few MB in all, paid one to three collections (with
// their mark workers on a 2-core machine, a few percent of the command).
// With the collector off under a memory limit of startHeap, the first
// collection comes at startHeap; the cleanup below, which runs after that
// collection, restores the default, so a large build or plan is paced as
// before from then on. A larger startHeap (64 MiB was tried) saves a
// plan of 10,000 stages a few collections but makes it touch more fresh
// pages, whose faults cost these VMs as much as the collections did
// (docs/performance.md). This is a minimum heap, like the old ballast trick,
// without the ballast's memory. A GOGC or GOMEMLIMIT the user set is left
// alone.
func deferFirstGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(startHeap)
	sentinel := new([64]byte) // not tiny-allocated: its cleanup must run after the first GC
	runtime.AddCleanup(sentinel, func(struct{}) {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	}, struct{}{})
}
