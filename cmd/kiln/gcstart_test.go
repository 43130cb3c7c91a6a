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
	if p, l := gcSettings(); p != -1 || l != startHeap {
		t.Fatalf("before the first GC: GOGC %d, limit %d; want off under %d", p, l, startHeap)
	}
	runtime.GC()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, l := gcSettings()
		if p == 100 && l == math.MaxInt64 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first GC: GOGC %d, limit %d; want the defaults back (100, no limit)", p, l)
		}
		runtime.GC() // the cleanup runs on its own goroutine after a cycle
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeferFirstGCLeavesTheUsersSetting(t *testing.T) {
	t.Setenv("GOGC", "50")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	deferFirstGC()
	if p, _ := gcSettings(); p != 100 {
		t.Fatalf("GOGC set by the user: deferFirstGC changed the percent to %d", p)
	}
}
