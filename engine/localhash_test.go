package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/realize/source"
)

// TestLocalHashesPrefetch checks that hashes prefetched while the compiler
// asks for them are the hashes it would compute itself, errors included,
// whoever gets to a source first.
func TestLocalHashesPrefetch(t *testing.T) {
	dir := t.TempDir()
	cfg := &lang.Config{Dir: dir}
	for i := range 40 {
		p := fmt.Sprintf("src/%d", i)
		if i%10 != 9 { // every tenth is missing: an error to memoize
			if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, p, "f"), []byte(p), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		src := &lang.Source{Type: "local", Name: fmt.Sprint("d", i), Path: "./" + p}
		if i%2 == 0 {
			src.Exclude = []string{".git"}
		}
		cfg.Sources = append(cfg.Sources, src)
	}
	cfg.Sources = append(cfg.Sources, &lang.Source{Type: "local", Name: "out", Path: "../outside"})
	for range 5 {
		l := newLocalHashes(nil)
		l.prefetch(cfg)
		var wg sync.WaitGroup
		for _, src := range cfg.Sources[:len(cfg.Sources)-1] {
			wg.Go(func() {
				d := filepath.Join(dir, filepath.FromSlash(filepath.Clean(src.Path)))
				got, gerr := l.hash(d, src.Include, src.Exclude)
				want, werr := source.LocalHash(d, src.Include, src.Exclude, nil)
				if got != want || fmt.Sprint(gerr) != fmt.Sprint(werr) {
					t.Errorf("%s: got %q, %v; want %q, %v", src.Path, got, gerr, want, werr)
				}
			})
		}
		wg.Wait()
		l.done()
	}
}

// slowCache is a stat cache slow enough that a hash is under way when
// the compile ends; it counts the calls that reach it.
type slowCache struct {
	calls atomic.Int64
}

func (c *slowCache) Get(string) ([]byte, bool, error) {
	c.calls.Add(1)
	time.Sleep(20 * time.Millisecond)
	return nil, false, nil
}

func (c *slowCache) Put(string, []byte) error {
	c.calls.Add(1)
	time.Sleep(20 * time.Millisecond)
	return nil
}

// TestLocalHashesDoneDoesNotWait checks that the end of the compile stops
// prefetching at once: a large source under way is not waited for, the
// stat cache (the store) is not used afterwards, and the hash under way
// ends at its next file instead of reading the rest of the tree.
func TestLocalHashesDoneDoesNotWait(t *testing.T) {
	dir := t.TempDir()
	for i := range 200 {
		d := filepath.Join(dir, "big", fmt.Sprint(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := &slowCache{}
	l := newLocalHashes(nil)
	l.cache = cache
	l.prefetch(&lang.Config{Dir: dir, Sources: []*lang.Source{{Type: "local", Name: "big", Path: "big"}}})
	for cache.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	l.done()
	// The whole source takes seconds through this cache; done waits at
	// most for the uses under way (20 ms), with room for a loaded machine.
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("done took %v", d)
	}
	n := cache.calls.Load()
	time.Sleep(100 * time.Millisecond)
	if m := cache.calls.Load(); m != n {
		t.Errorf("the stat cache was used %d times after done", m-n)
	}
	l.mu.Lock()
	var under *localHash
	for _, r := range l.memo {
		under = r
	}
	l.mu.Unlock()
	select {
	case <-under.done:
		if !errors.Is(under.err, errPrefetchStopped) {
			t.Errorf("the hash under way ended with %v, want %v", under.err, errPrefetchStopped)
		}
	case <-time.After(10 * time.Second):
		t.Error("the hash under way did not end after done")
	}
}
