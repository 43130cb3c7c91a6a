package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

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
