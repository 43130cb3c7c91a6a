package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// BenchmarkAutoCheck is the cost automatic collection adds to a no-op
// build: read the store's config.hcl and check the budget (statfs, the
// last measurement, three folder times), on a store of 1,000 recorded
// derivations. The same no-op without the check (open, look every
// derivation up, close) runs alternately in the same loop, so that both
// see the same machine load: check-ns/op is the check (check-cpu-ns/op
// its CPU time, all threads), noop-ns/op the no-op without it, and x-noop
// their ratio. The check must stay under a
// millisecond.
func BenchmarkAutoCheck(b *testing.B) {
	root := b.TempDir()
	s, err := Open(root)
	if err != nil {
		b.Fatal(err)
	}
	var layers []digest.Digest
	for i := range 10 {
		layers = append(layers, addLayer(b, s, map[string]string{"f": fmt.Sprint(i)}))
	}
	drvs := make([]digest.Digest, 1000)
	for i := range drvs {
		drvs[i] = drv(fmt.Sprint(i))
		if err := s.Record(drvs[i], Output{Layers: layers[:1+i%10]}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := SetConfig(root, map[string]string{"gc.keep_bytes": "10GB", "gc.min_free": "1GB", "gc.cache.keep_bytes": "2GB"}); err != nil {
		b.Fatal(err)
	}
	noop := func() *Store {
		s, err := Open(root)
		if err != nil {
			b.Fatal(err)
		}
		if outs, err := s.LookupMany(drvs); err != nil || len(outs) != len(drvs) {
			b.Fatalf("LookupMany: %d found, %v", len(outs), err)
		}
		return s
	}
	check := func(s *Store) {
		c, err := LoadConfig(root)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.CheckBudget(c.GC, false); err != nil {
			b.Fatal(err)
		}
	}
	s = noop()
	check(s) // the first check measures
	s.Close()

	var noopNs, checkNs time.Duration
	var checkCPU int64
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		s := noop()
		t1 := time.Now()
		c0 := cpuTime()
		check(s)
		checkCPU += cpuTime() - c0
		t2 := time.Now()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		noopNs += t1.Sub(t0) + time.Since(t2)
		checkNs += t2.Sub(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(checkNs.Nanoseconds())/float64(b.N), "check-ns/op")
	// CPU time too: on a loaded machine wall time mostly measures the
	// wait for a core (the no-op's badger goroutines run meanwhile).
	b.ReportMetric(float64(checkCPU)/float64(b.N), "check-cpu-ns/op")
	b.ReportMetric(float64(noopNs.Nanoseconds())/float64(b.N), "noop-ns/op")
	b.ReportMetric(float64(checkNs)/float64(noopNs), "x-noop")
}

// BenchmarkCollect10000 times an automatic collection of a store of
// 10,000 objects (each a recorded output of one small layer): all of
// them unrooted ("all"), or half of them rooted ("half"). The store is
// filled through the index directly (the objects' files written, their
// entries set in batches), since adding 10,000 layers one by one with a
// sync each would take longer than the collection measured.
func BenchmarkCollect10000(b *testing.B) {
	for _, tc := range []struct {
		name   string
		rooted int
	}{{"all", 0}, {"half", 5000}}[:benchCases()] {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				root := b.TempDir()
				fillFast(b, root, 10000, tc.rooted)
				s, err := Open(root)
				if err != nil {
					b.Fatal(err)
				}
				c := budget(1)
				p, err := s.CheckBudget(c, true)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := s.AutoGC(c, p, false)
				b.StopTimer()
				if err != nil || rep.Layers != 10000-tc.rooted {
					b.Fatalf("AutoGC removed %d layers (%v), want %d", rep.Layers, err, 10000-tc.rooted)
				}
				s.Close()
				b.StartTimer()
			}
		})
	}
}

// fillFast makes n layers of one file each and an output per layer, the
// first rooted of them kept by one root.
func fillFast(b *testing.B, root string, n, rooted int) {
	b.Helper()
	s, err := Open(root)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var set []entry
	var roots []digest.Digest
	flush := func() {
		if err := s.write(batch{Set: set}); err != nil {
			b.Fatal(err)
		}
		set = set[:0]
	}
	for i := range n {
		content := fmt.Sprint("object ", i)
		d := digest.FromString(content) // a name, not the tree's hash: GC does not rehash
		dir := s.LayerPath(d)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(strings.Repeat("x", 100)), 0o644); err != nil {
			b.Fatal(err)
		}
		lk, _ := key(pLayer, d)
		set = append(set, entry{lk, encodeObject(objectMeta{used: time.Now(), size: 100 + 512, files: 1})})
		dg := drv(fmt.Sprint("fill", i))
		ok, _ := key(pOutput, dg)
		v, err := encodeRecord(record{used: time.Now(), out: Output{Layers: []digest.Digest{d}}})
		if err != nil {
			b.Fatal(err)
		}
		set = append(set, entry{ok, v})
		if i < rooted {
			roots = append(roots, dg)
		}
		if len(set) >= 1000 {
			flush()
		}
	}
	flush()
	if err := s.AddRoot("half", roots...); err != nil {
		b.Fatal(err)
	}
}

// benchCases limits BenchmarkCollect10000 to its first case when
// KILN_BENCH_QUICK is set.
func benchCases() int {
	if os.Getenv("KILN_BENCH_QUICK") != "" {
		return 1
	}
	return 2
}
