package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// concurrentHCL is a small two-stage project; NAME makes different
// projects out of it.
func concurrentHCL(name string) string {
	return fmt.Sprintf(`
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "gen" {
  from = source.local.busybox
  run {
    # Long enough that the builds started together overlap.
    shell = "sleep 1; echo %[1]s > /name; seq 1 100 > /numbers"
  }
}

stage "use" {
  from = source.local.busybox
  copy {
    from = stage.gen
    src  = ["/name", "/numbers"]
    dest = "/in/"
  }
  run {
    shell = "wc -l /in/numbers > /report; cat /in/name >> /report"
  }
}
`, name)
}

// TestConcurrentBuilds runs two, then four kiln builds on one store at
// once, of the same project and of different ones: each succeeds, those
// of one project agree with each other and with a build in a store of its
// own, none waits for the store, and each step is built by one of them.
func TestConcurrentBuilds(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("runs several real builds at once; skipped with -short")
	}
	one := newProj(t, concurrentHCL("one"), "")
	two := newProj(t, concurrentHCL("two"), "")
	want := map[*proj][]string{
		one: outputIDs(t, one.ok("build", "--progress", "quiet", "stage.use")),
		two: outputIDs(t, two.ok("build", "--progress", "quiet", "stage.use")),
	}
	for _, tc := range []struct {
		name  string
		projs []*proj
	}{
		{"two-same", []*proj{one, one}},
		{"four-same", []*proj{one, one, one, one}},
		{"two-different", []*proj{one, two}},
		{"four-different", []*proj{one, two, one, two}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shared := filepath.Join(t.TempDir(), "store")
			type result struct {
				stdout, stderr string
				code           int
			}
			res := make([]result, len(tc.projs))
			var wg sync.WaitGroup
			for i, p := range tc.projs {
				q := &proj{t: t, dir: p.dir, store: shared}
				wg.Add(1)
				go func() {
					defer wg.Done()
					o, e, code := q.run("build", "--progress", "json", "stage.use")
					res[i] = result{o, e, code}
				}()
			}
			wg.Wait()
			built := map[string]int{}
			for i, r := range res {
				if r.code != 0 {
					t.Fatalf("build %d: exit %d\n%s", i, r.code, r.stderr)
				}
				if got := outputIDs(t, r.stdout); !slices.Equal(got, want[tc.projs[i]]) {
					t.Errorf("build %d gives %v, a build alone in its own store %v", i, got, want[tc.projs[i]])
				}
				if strings.Contains(r.stderr, "waiting for the store") {
					t.Errorf("build %d waited for the store:\n%s", i, r.stderr)
				}
				for _, d := range doneDigests(t, r.stderr) {
					built[d]++
				}
			}
			// Builds of one project share their steps: one builds each,
			// the others wait for that step alone and reuse it.
			for d, n := range built {
				if n != 1 {
					t.Errorf("derivation %s built %d times, want once", d, n)
				}
			}
			q := &proj{t: t, dir: one.dir, store: shared}
			q.verifyStore()
		})
	}
}
