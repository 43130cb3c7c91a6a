package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// gcSettings reads GOGC and the memory limit without changing them.
func gcSettings() (percent, limit int64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
}

func TestDeferFirstGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	deferFirstGC()
	if p, l := gcSettings(); p != 400 || l != math.MaxInt64 {
		t.Fatalf("before the first GC: GOGC %d, limit %d; want 400 and no limit", p, l)
	}
	runtime.GC()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, l := gcSettings()
		if p == runningGOGC && l == math.MaxInt64 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first GC: GOGC %d, limit %d; want %d and no limit", p, l, runningGOGC)
		}
		runtime.GC() // the cleanup runs on its own goroutine after a cycle
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDeferFirstGCHeap: the first collection waits for startHeap of heap,
// whatever else the runtime has mapped (a memory limit of startHeap, which
// counts all of it, collected at 7 MB of heap in a no-op build).
func TestDeferFirstGCHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	// Memory the runtime maps besides the heap: goroutine stacks.
	stop := make(chan struct{})
	defer close(stop)
	for range 64 {
		go func() { grow(512); <-stop }()
	}
	runtime.GC() // a small heap to start from, as at process start
	deferFirstGC()
	cycles := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := cycles()
	var keep [][]byte
	for range startHeap / 2 / (64 << 10) {
		keep = append(keep, make([]byte, 64<<10))
	}
	if n := cycles() - before; n != 0 {
		t.Errorf("%d collections while the heap grew by %d MiB, want none before %d MiB", n, startHeap/2>>20, startHeap>>20)
	}
	runtime.KeepAlive(keep)
}

// grow uses about n KiB of goroutine stack.
func grow(n int) byte {
	var b [1024]byte
	if n > 0 {
		b[0] = grow(n - 1)
	}
	return b[0]
}

func TestDeferFirstGCLeavesTheUsersSetting(t *testing.T) {
	t.Setenv("GOGC", "50")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	deferFirstGC()
	if p, _ := gcSettings(); p != 100 {
		t.Fatalf("GOGC set by the user: deferFirstGC changed the percent to %d", p)
	}
}
