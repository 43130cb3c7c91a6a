package store

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/opencontainers/go-digest"
)

func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkOpenLookupClose is the store's part of a no-op build: open a store
// holding 1,000 recorded derivations, look them all up, close. The baseline,
// run in the same benchmark, is the cheapest index-free alternative: stat
// 1,000 files (one per derivation) in one directory. ns/op is the store;
// baseline-ns/op and x-baseline compare.
func BenchmarkOpenLookupClose(b *testing.B) {
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
	statDir := b.TempDir()
	for i := range drvs {
		drvs[i] = drv(fmt.Sprint(i))
		out := Output{Layers: layers[:1+i%10], Meta: map[string]string{"k": "v"}, Built: time.Now(), DurationMS: 5}
		if err := s.Record(drvs[i], out); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(statDir, drvs[i].Encoded()), nil, 0o644)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for b.Loop() {
		s, err := Open(root)
		if err != nil {
			b.Fatal(err)
		}
		outs, err := s.LookupMany(drvs)
		if err != nil || len(outs) != len(drvs) {
			b.Fatalf("LookupMany: %d found, %v", len(outs), err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	storeNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.StopTimer()
	// CPU time (user+system, all threads) is reported too: on a loaded
	// machine wall time mostly measures the wait for a core.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")

	const rounds = 50
	t0 := time.Now()
	for range rounds {
		for _, d := range drvs {
			if _, err := os.Stat(filepath.Join(statDir, d.Encoded())); err != nil {
				b.Fatal(err)
			}
		}
	}
	baseNs := float64(time.Since(t0).Nanoseconds()) / rounds
	b.ReportMetric(baseNs, "baseline-ns/op")
	b.ReportMetric(storeNs/baseNs, "x-baseline")
}

// BenchmarkBadgerOpen measures what the alternative design (open badger
// for each short transaction, under a lock) would pay per transaction: a
// read-only open and close, and a writing open, one write and close, on an
// index of 1,000 records. See "Processes" in doc.go.
func BenchmarkBadgerOpen(b *testing.B) {
	root := b.TempDir()
	s, err := Open(root)
	if err != nil {
		b.Fatal(err)
	}
	l := addLayer(b, s, map[string]string{"f": "x"})
	for i := range 1000 {
		if err := s.Record(drv(fmt.Sprint(i)), Output{Layers: []digest.Digest{l}}); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	dir := filepath.Join(root, "index")
	for _, rw := range []bool{false, true} {
		name := "read-only"
		if rw {
			name = "write"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				db, err := badger.Open(badgerOptions(dir, !rw))
				if err != nil {
					b.Fatal(err)
				}
				if rw {
					if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(fmt.Sprint("k", i)), []byte("v")) }); err != nil {
						b.Fatal(err)
					}
					db.Sync()
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
