package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/go-units"

	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

// Automatic garbage collection: a build keeps its store within the budget
// of the store's configuration (store.LoadConfig) by itself. After the
// targets' roots are recorded, a build that is over budget collects; while
// steps run, a watcher collects whenever the filesystem's free space falls
// under min_free. Each collection is one Collected event. The check costs a
// no-op build two small file reads, a statfs and three stats (see
// store/policy.go).

// minFreeInterval is how often a running build looks at the free space.
const minFreeInterval = 2 * time.Second

// gcOff reports whether this session must not collect: --no-gc
// (Options.NoGC) or KILN_GC=off.
func (s *Session) gcOff() bool {
	return s.opts.NoGC || lookupEnv(s.opts.Environ, "KILN_GC") == "off"
}

// gcConfig reads the store's GC policy; nil when automatic collection is
// off. A configuration that does not parse turns it off with a warning:
// a build must not fail for it.
func (s *Session) gcConfig(st *store.Store) *store.GCConfig {
	if s.gcOff() {
		return nil
	}
	c, err := store.LoadConfig(st.Root())
	if err != nil {
		s.emit(Event{Kind: Warning, Message: fmt.Sprintf("automatic garbage collection is off: %v", err)})
		return nil
	}
	if !c.GC.Auto {
		return nil
	}
	return &c.GC
}

// collectAfterBuild collects when the store is over budget. changed says
// whether the build added anything: a no-op build trusts the last
// measurement. The build's roots are recorded by now, so this process's
// own temp roots need not count: what it built for its targets is rooted.
func (s *Session) collectAfterBuild(st *store.Store, c *store.GCConfig, changed bool) {
	if c == nil {
		return
	}
	p, err := st.CheckBudget(*c, changed)
	if err != nil {
		s.emit(Event{Kind: Warning, Message: fmt.Sprintf("checking the store's budget: %v", err)})
		return
	}
	if p.Reason != "" {
		s.collect(st, *c, p, false)
	}
}

// collect runs one automatic collection and reports it.
func (s *Session) collect(st *store.Store, c store.GCConfig, p store.Pressure, keepOwn bool) {
	rep, err := st.AutoGC(c, p, keepOwn)
	switch {
	case err != nil:
		s.emit(Event{Kind: Warning, Message: fmt.Sprintf("automatic garbage collection (%s) failed: %v; run kiln store gc", p.Reason, err)})
	case rep.Skipped:
		// Another process is collecting: that one does the job.
	default:
		s.emit(Event{Kind: Collected, Message: collectedLine(p, rep)})
	}
}

// collectedLine is the one progress line of a collection.
func collectedLine(p store.Pressure, rep store.AutoReport) string {
	what := fmt.Sprintf("%d layers, %d blobs", rep.Layers, rep.Blobs)
	if rep.Caches > 0 {
		what += fmt.Sprintf(", %d cache mounts", rep.Caches)
	}
	return fmt.Sprintf("gc: %s: freed %s (%s) in %s, %s left",
		p.Reason, units.BytesSize(float64(rep.Freed())), what, rep.Took.Round(time.Millisecond), units.BytesSize(float64(rep.Left)))
}

// minFreeWatcher collects while steps run whenever the free space falls
// under min_free. It keeps this process's own temp roots (what the build
// uses), runs next to the steps rather than before them, and waits for a
// collection in progress when stopped.
type minFreeWatcher struct {
	s    *Session
	st   *store.Store
	c    *store.GCConfig
	stop context.CancelFunc
	wg   sync.WaitGroup
	// built counts steps built, to tell a no-op build from one that
	// changed the store.
	built atomic.Int64
}

func (s *Session) newMinFreeWatcher(st *store.Store, c *store.GCConfig) *minFreeWatcher {
	return &minFreeWatcher{s: s, st: st, c: c, stop: func() {}}
}

// start watches until finish; it is called once the realize phase has
// started, so that its events come inside the phase.
func (w *minFreeWatcher) start() {
	if w == nil || w.c == nil || w.c.MinFree <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(minFreeInterval)
		defer t.Stop()
		for {
			// statfs alone while there is room: measuring the store
			// each time would scan the index every few seconds.
			if free, err := w.st.Free(); err == nil && free < w.c.MinFree {
				if p, err := w.st.CheckBudget(*w.c, true); err == nil && p.LowFree {
					w.s.collect(w.st, *w.c, p, true)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// step notes a realizer event.
func (w *minFreeWatcher) step(e realize.Event) {
	if w != nil && e.Kind == realize.EventDone {
		w.built.Add(1)
	}
}

// finish stops the watcher, waiting for a collection in progress.
func (w *minFreeWatcher) finish() {
	if w == nil {
		return
	}
	w.stop()
	w.wg.Wait()
}
