package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/store"
)

func TestGCOff(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		off  bool
	}{
		{Options{}, false},
		{Options{NoGC: true}, true},
		{Options{Environ: []string{"KILN_GC=off"}}, true},
		{Options{Environ: []string{"KILN_GC=off", "KILN_GC=on"}}, false},
	} {
		if got := (&Session{opts: tc.opts}).gcOff(); got != tc.off {
			t.Errorf("gcOff(%+v) = %v, want %v", tc.opts, got, tc.off)
		}
	}
}

func TestCollectedLine(t *testing.T) {
	rep := store.AutoReport{GCReport: store.GCReport{Layers: 3, Blobs: 1, BytesFreed: 3 << 20}, Caches: 1, CacheBytes: 1 << 20, Took: 42 * time.Millisecond, Left: 5 << 20}
	got := collectedLine(store.Pressure{Reason: "the store holds 9MiB, over its budget of 5MiB"}, rep)
	want := "gc: the store holds 9MiB, over its budget of 5MiB: freed 4MiB (3 layers, 1 blobs, 1 cache mounts) in 42ms, 5MiB left"
	if got != want || strings.Contains(got, "\n") {
		t.Errorf("collectedLine =\n%q\nwant\n%q", got, want)
	}
}
