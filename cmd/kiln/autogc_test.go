package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

// gcHCL has a target "keep" built once, a target "grow" whose every build
// (one per SEED) makes SIZE bytes of new output, and "hold", which runs on
// an old output of "grow" and reads it after sleeping NAP seconds, for a
// build that uses an object while others collect.
const gcHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

variable "SEED" {
  type    = string
  default = "0"
}

variable "SIZE" {
  type    = string
  default = "1000000"
}

variable "NAP" {
  type    = string
  default = "0"
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "keep" {
  from = source.local.busybox
  run {
    shell = "echo keep > /keep"
  }
}

stage "grow" {
  from = source.local.busybox
  run {
    shell = "echo ${var.SEED} > /seed; head -c ${var.SIZE} /dev/urandom > /junk; sleep ${var.NAP}"
  }
}

stage "old" {
  from = source.local.busybox
  run {
    shell = "head -c 300000 /dev/urandom > /old"
  }
}

stage "hold" {
  from = stage.old
  run {
    shell = "echo holding; sleep ${var.NAP}; cat /old > /copy"
  }
}
`

// objectBytes is what the store's layers and blobs hold on disk.
func objectBytes(t *testing.T, store string) int64 {
	t.Helper()
	var n int64
	for _, dir := range []string{"layers", "blobs"} {
		filepath.WalkDir(filepath.Join(store, dir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					n += info.Size()
				}
			}
			return nil
		})
	}
	return n
}

// builtNothing fails unless building args again builds nothing: its output
// is still in the store.
func (p *proj) builtNothing(what string, args ...string) {
	p.t.Helper()
	_, e, code := p.run(append([]string{"build", "--progress", "json"}, args...)...)
	if code != 0 {
		p.t.Fatalf("rebuild of %s: exit %d\n%s", what, code, e)
	}
	if ds := doneDigests(p.t, e); len(ds) > 0 {
		p.t.Errorf("rebuild of %s built %d derivations, want none: its output was collected", what, len(ds))
	}
}

// TestAutoGCKeepsStoreWithinBudget fills a store with a small budget past
// it through real builds: it comes back under the budget by itself after
// each build, one progress line each time, keeping every target's latest
// output and what a concurrent build uses.
func TestAutoGCKeepsStoreWithinBudget(t *testing.T) {
	testutil.RequireRoot(t)
	p := newProj(t, gcHCL, "")
	p.ok("build", "--progress", "quiet", "stage.keep")
	base := objectBytes(t, p.store)
	budget := base + 2_500_000
	p.ok("store", "config", "gc.keep_bytes="+strconv.FormatInt(budget, 10))

	// A build makes stage.old (no root keeps it until this build ends, and
	// it is the least recently used object) and sleeps on it while the
	// others collect: it must still be there when the step reads it.
	hold := p.start("build", "--progress", "plain", "--var", "NAP=8", "stage.hold")
	hold.waitLine(t, `\| holding`)

	collections := 0
	for seed := 1; seed <= 6; seed++ {
		_, e, code := p.run("build", "--progress", "plain", "--var", fmt.Sprint("SEED=", seed), "stage.grow")
		if code != 0 {
			t.Fatalf("build %d: exit %d\n%s", seed, code, e)
		}
		for _, l := range strings.Split(e, "\n") {
			if strings.Contains(l, "gc: ") {
				collections++
				if !strings.Contains(l, "over its budget") || !strings.Contains(l, "freed") {
					t.Errorf("collection line: %q", l)
				}
			}
		}
		if n := objectBytes(t, p.store); n > budget {
			t.Errorf("after build %d the store holds %d bytes, over its budget of %d", seed, n, budget)
		}
	}
	if collections < 3 {
		t.Errorf("%d automatic collections in 6 builds of 1 MB over a 2.5 MB allowance, want at least 3", collections)
	}
	if code := hold.wait(t, time.Minute); code != 0 {
		t.Fatalf("the build next to the collections failed:\n%s", hold.output())
	}
	p.verifyStore()
	p.builtNothing("stage.keep", "stage.keep")
	p.builtNothing("the latest stage.grow", "--var", "SEED=6", "stage.grow")
	p.builtNothing("stage.hold", "--var", "NAP=8", "stage.hold")

	// --no-gc and KILN_GC=off leave the store over budget.
	p.ok("build", "--progress", "quiet", "--no-gc", "--var", "SEED=7", "stage.grow")
	p.env = []string{"KILN_GC=off"}
	p.ok("build", "--progress", "quiet", "--var", "SEED=8", "stage.grow")
	if n := objectBytes(t, p.store); n <= budget {
		t.Errorf("with automatic GC off the store holds %d bytes, want over %d", n, budget)
	}
	out := p.ok("store", "du")
	if !strings.Contains(out, "automatic GC would remove") {
		t.Errorf("kiln store du over budget:\n%s", out)
	}
	p.env = nil
	_, e, _ := p.run("build", "--progress", "plain", "stage.keep")
	if !strings.Contains(e, "gc: ") || objectBytes(t, p.store) > budget {
		t.Errorf("a no-op build over budget did not collect:\n%s", e)
	}
	if out := p.ok("store", "du"); !strings.Contains(out, "automatic GC would remove nothing") {
		t.Errorf("kiln store du within budget:\n%s", out)
	}
}

// TestAutoGCUnderMinFree builds on a small tmpfs: when a running step
// brings the free space under min_free, a collection runs during the
// build, not after it, and the build succeeds.
func TestAutoGCUnderMinFree(t *testing.T) {
	testutil.RequireRoot(t)
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=96m"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	p := newProj(t, gcHCL, filepath.Join(mnt, "store"))
	p.ok("build", "--progress", "quiet", "stage.keep")
	// No budget to speak of, but 40 MB must stay free.
	p.ok("store", "config", "gc.keep_bytes=1GB", "gc.min_free=40MB")
	for seed := 1; seed <= 2; seed++ {
		p.ok("build", "--progress", "quiet", "--var", fmt.Sprint("SEED=", seed), "--var", "SIZE=20000000", "stage.grow")
	}
	// 40 MB of old outputs and busybox on 96 MB; this step writes 20 MB
	// more and then sleeps: the collection must come while it sleeps.
	_, e, code := p.run("build", "--progress", "plain", "--var", "SEED=3", "--var", "SIZE=20000000", "--var", "NAP=5", "stage.grow")
	if code != 0 {
		t.Fatalf("build on a nearly full filesystem: exit %d\n%s", code, e)
	}
	gcAt, doneAt := -1, -1
	for i, l := range strings.Split(e, "\n") {
		switch {
		case gcAt < 0 && strings.Contains(l, "gc: ") && strings.Contains(l, "under min_free"):
			gcAt = i
		case strings.Contains(l, "grow/run") && strings.Contains(l, "done in"):
			doneAt = i
		}
	}
	if gcAt < 0 || doneAt < 0 || gcAt > doneAt {
		t.Errorf("want a min_free collection while the step ran (line %d, step done at line %d):\n%s", gcAt, doneAt, e)
	}
	p.verifyStore()
	p.builtNothing("stage.keep", "stage.keep")
	p.builtNothing("the latest stage.grow", "--var", "SEED=3", "--var", "SIZE=20000000", "--var", "NAP=5", "stage.grow")
}

// cacheHCL fills a cache mount named ID with 600 kB of its step's own.
const cacheHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

variable "ID" {
  type = string
}

variable "SEED" {
  type    = string
  default = "0"
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "fill" {
  from = source.local.busybox
  run {
    shell = "head -c 600000 /dev/urandom > /cache/data; echo ${var.ID} ${var.SEED} > /id"
    mount "cache" {
      target = "/cache"
      id     = var.ID
    }
  }
}
`

// TestAutoGCPrunesCacheMounts: cache mounts count toward the budget and
// the least recently used go when they exceed theirs.
func TestAutoGCPrunesCacheMounts(t *testing.T) {
	testutil.RequireRoot(t)
	p := newProj(t, cacheHCL, "")
	p.ok("store", "config", "gc.cache.keep_bytes=1300000")
	for _, id := range []string{"one", "two", "three"} {
		p.ok("build", "--progress", "quiet", "--var", "ID="+id, "stage.fill")
	}
	caches := func() map[string]bool {
		have := map[string]bool{}
		for _, id := range []string{"one", "two", "three", "four"} {
			sum := sha256.Sum256([]byte(id))
			if _, err := os.Stat(filepath.Join(p.store, "cache", hex.EncodeToString(sum[:16]))); err == nil {
				have[id] = true
			}
		}
		return have
	}
	// Three caches of 600 kB over a budget of 1.3 MB: the first went.
	if got, want := caches(), map[string]bool{"two": true, "three": true}; !maps.Equal(got, want) {
		t.Errorf("cache mounts left: %v, want %v", got, want)
	}
	// A step using "two" again makes "three" the least recently used.
	p.ok("build", "--progress", "quiet", "--var", "ID=two", "--var", "SEED=1", "--no-gc", "stage.fill")
	_, e, _ := p.run("build", "--progress", "plain", "--var", "ID=four", "stage.fill")
	if !strings.Contains(e, "1 cache mounts") {
		t.Errorf("want a collection of one cache mount:\n%s", e)
	}
	if got, want := caches(), map[string]bool{"two": true, "four": true}; !maps.Equal(got, want) {
		t.Errorf("cache mounts left: %v, want %v", got, want)
	}
	p.verifyStore()
}

// TestAutoGCKilledLeavesStoreClean kills builds (kill -9) while their
// automatic collection removes hundreds of unrooted outputs: kiln store
// verify finds the store consistent after each, and the next build
// finishes the collection and builds nothing.
func TestAutoGCKilledLeavesStoreClean(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("fills a store with hundreds of outputs; skipped with -short")
	}
	p := newProj(t, gcHCL, "")
	p.ok("build", "--progress", "quiet", "stage.keep")
	p.ok("store", "config", "gc.keep_bytes=1")
	rooted := objectBytes(t, p.store)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 21))
	midway := 0
	for round := range 4 {
		fillStore(t, p.store, round, 1000)
		full := objectBytes(t, p.store)
		s := p.start("build", "--progress", "plain", "stage.keep")
		time.Sleep(time.Duration(30+rng.IntN(400)) * time.Millisecond)
		s.signal(t, syscall.SIGKILL)
		s.wait(t, time.Minute)
		left := objectBytes(t, p.store)
		t.Logf("round %d: %d of %d bytes of objects left (%d rooted)", round, left, full, rooted)
		if left > rooted && left < full {
			midway++
		}
		p.verifyStore()
	}
	t.Logf("%d of 4 kills landed in the middle of a collection", midway)
	_, e, code := p.run("build", "--progress", "plain", "stage.keep")
	if code != 0 {
		t.Fatalf("build after killed collections: exit %d\n%s", code, e)
	}
	p.verifyStore()
	p.builtNothing("stage.keep", "stage.keep")
	if out := p.ok("store", "du"); !strings.Contains(out, "derivations      2 ") && !strings.Contains(out, "would remove 0 derivations, 0 layers") {
		t.Logf("kiln store du after the collections:\n%s", out)
	}
}

// fillStore records n outputs of one small layer each (named after
// round), none rooted, as builds replaced since would have left them.
func fillStore(t *testing.T, root string, round, n int) {
	t.Helper()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		dir, err := st.TempDir("fill-")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(fmt.Sprint("object ", round, " ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		d, size, err := layer.Hash(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddLayer(dir, d, store.LayerInfo{Size: size, Files: 1}); err != nil {
			t.Fatal(err)
		}
		if err := st.Record(digest.FromString(fmt.Sprint("fill ", round, " ", i)), store.Output{Layers: []digest.Digest{d}}); err != nil {
			t.Fatal(err)
		}
	}
}
