package main

import (
	"os"
	"runtime"
	"runtime/debug"
)

// startHeap is how much a kiln process may allocate before its first
// garbage collection.
const startHeap = 16 << 20

// runningGOGC is the GOGC a kiln process runs at after its first
// collection. kiln's commands are short-lived and their live heap is
// small except while evaluating a large build file, where collections
// were 14% of `kiln plan`'s CPU for 10,000 stages at GOGC=100; at 200 the
// plan took 9 to 16% less CPU (perf stat -r 15, twice) and 8 to 20% less
// wall time (medians of 11, interleaved, load 1.1 to 2.4), for a peak of
// 158 MB against 139 MB (docs/performance.md).
const runningGOGC = 200

// goHeapMinimum is the heap size of the runtime's first collection at
// GOGC=100 (defaultHeapMinimum in runtime/mgcpacer.go); it scales with
// GOGC.
const goHeapMinimum = 4 << 20

// deferFirstGC lets the heap grow to startHeap before the first
// collection, then paces the heap at runningGOGC.
//
// Go collects first when the heap reaches 4 MB, and package
// initialisation alone allocates 2 MB: a no-op rebuild or a small plan,
// which allocate a few MB in all, paid one to three collections (with
// their mark workers on a 2-core machine, a few percent of the command).
// GOGC=400 puts the first collection at startHeap of heap; the cleanup
// below, which runs after that collection, sets runningGOGC, so a large
// build or plan is paced by its live heap from then on. (A memory limit of
// startHeap with the collector off, tried first, counts all the memory
// the runtime maps, not just the heap: the 1,001-derivation no-op
// collected at 7 MB of heap.) A larger startHeap (64 MiB was tried) saves
// a plan of 10,000 stages a few collections but makes it touch more fresh
// pages, whose faults cost these VMs as much as the collections did
// (docs/performance.md). This is a minimum heap, like the old ballast
// trick, without the ballast's memory. A GOGC or GOMEMLIMIT the user set
// is left alone.
func deferFirstGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(startHeap * 100 / goHeapMinimum)
	sentinel := new([64]byte) // not tiny-allocated: its cleanup must run after the first GC
	runtime.AddCleanup(sentinel, func(struct{}) {
		debug.SetGCPercent(runningGOGC)
	}, struct{}{})
}
