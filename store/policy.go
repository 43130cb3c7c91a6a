package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/atomicfile"
)

// Automatic collection keeps a store within the budget of its
// configuration (config.go) without anyone running kiln store gc, as
// buildkitd applies its gcpolicy and Nix its min-free.
//
// Deciding must cost a no-op build nothing it would notice, so the sizes
// it compares with the budget are measured only when something changed:
// gc.state holds the last measurement (the objects' total from the
// index, each cache mount's size at its last use). A build that added
// nothing reads that file, calls statfs and stats three folders; one that
// ran steps, or finds objects added or removed since the measurement
// (changedSince) or the measurement over an hour old, measures again (an
// index scan and a walk of the caches used since) and writes it back. Measurements
// of several processes may overwrite each other; each is a whole one,
// and a collection re-measures everything anyway.
//
// Sources and fixed outputs are marked by the realizer with
// MetaClass = ClassSource: what is fetched from outside is the slowest
// to get back, so over budget every other unkept object goes first.

// MetaClass is the Output.Meta key naming the class of an output, for
// GC rules by kind; ClassSource marks sources and fixed outputs.
const (
	MetaClass   = "kiln.class"
	ClassSource = "source"
)

// stateFile holds the last measurement of the store's size.
const stateFile = "gc.state"

// remeasureAfter bounds how stale a measurement a no-op build trusts: other
// processes' builds measure what they add, so this only catches changes
// made without one (a removed cache, a kill -9 before measuring).
const remeasureAfter = time.Hour

// logsKeep keeps failed builds' logs through automatic collections, for
// kiln log to show them.
const logsKeep = 24 * time.Hour

func isSource(rec record) bool { return rec.out.Meta[MetaClass] == ClassSource }

// sourcesLast reorders GC candidates (least recently used first) so that
// objects of sources come after every other one.
func sourcesLast(snap *snapshot, cands []gcCandidate) {
	src := map[objKey]bool{}
	for _, rec := range snap.records {
		if isSource(rec) {
			for _, k := range objectsOf(rec) {
				src[k] = true
			}
		}
	}
	var other, sources []gcCandidate
	for _, c := range cands {
		if src[c.k] {
			sources = append(sources, c)
		} else {
			other = append(other, c)
		}
	}
	copy(cands, append(other, sources...))
}

// gcState is gc.state.
type gcState struct {
	Measured int64                 `json:"measured"` // unix nanoseconds
	Objects  int64                 `json:"objects"`
	Caches   map[string]cacheState `json:"caches"`
}

type cacheState struct {
	Used  int64 `json:"used"` // the cache's mtime when measured
	Bytes int64 `json:"bytes"`
}

func (st gcState) cacheBytes() int64 {
	var n int64
	for _, c := range st.Caches {
		n += c.Bytes
	}
	return n
}

// Pressure is what the automatic check found: why to collect, if at all.
type Pressure struct {
	// Reason is empty when the store is within its policy; otherwise it
	// says what is exceeded, for the progress line.
	Reason string
	// Objects and Caches are the measured bytes of layers and blobs and of
	// cache mounts; Free is the free space of the store's filesystem.
	Objects, Caches, Free int64
	// LowFree is set when Free is under the policy's MinFree.
	LowFree bool
}

// CheckBudget says whether the store needs an automatic collection under
// c. changed says whether this process added anything since its last
// check: only then, or when the last measurement is old, is the store
// measured again.
func (s *Store) CheckBudget(c GCConfig, changed bool) (Pressure, error) {
	var p Pressure
	free, err := freeBytes(s.root)
	if err != nil {
		return p, err
	}
	p.Free = free
	st, ok := s.readState()
	if changed || !ok || s.changedSince(st.Measured) {
		if st, err = s.measure(st); err != nil {
			return p, err
		}
	}
	p.Objects, p.Caches = st.Objects, st.cacheBytes()
	p.judge(c)
	return p, nil
}

// judge sets Reason and LowFree from the sizes.
func (p *Pressure) judge(c GCConfig) {
	switch {
	case c.MinFree > 0 && p.Free < c.MinFree:
		p.LowFree = true
		p.Reason = fmt.Sprintf("%s free on the store's filesystem, under min_free %s", humanBytes(p.Free), humanBytes(c.MinFree))
	case p.Objects+p.Caches > c.KeepBytes:
		p.Reason = fmt.Sprintf("the store holds %s, over its budget of %s", humanBytes(p.Objects+p.Caches), humanBytes(c.KeepBytes))
	case p.Caches > c.CacheKeepBytes:
		p.Reason = fmt.Sprintf("cache mounts hold %s, over their budget of %s", humanBytes(p.Caches), humanBytes(c.CacheKeepBytes))
	}
}

// freeBytes is the space an unprivileged user may still fill on the
// filesystem of path.
// changedSince reports whether objects or caches may have come or gone
// since the measurement at measured: adding or removing one renames an
// entry in or out of layers/, blobs/ or cache/, which sets that folder's
// modification time. Three stats; a process that added objects without
// measuring (--no-gc, kill -9) is so noticed by the next check.
func (s *Store) changedSince(measured int64) bool {
	if time.Since(time.Unix(0, measured)) > remeasureAfter {
		return true
	}
	for _, dir := range []string{"layers", "blobs", "cache"} {
		info, err := os.Stat(filepath.Join(s.root, dir))
		if err == nil && info.ModTime().UnixNano() >= measured {
			return true
		}
	}
	return false
}

// Free is the free space of the store's filesystem, for a watcher of
// min_free that must not measure the store every few seconds.
func (s *Store) Free() (int64, error) { return freeBytes(s.root) }

func freeBytes(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("reading the free space of %s: %w", path, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

func (s *Store) readState() (gcState, bool) {
	var st gcState
	b, err := os.ReadFile(filepath.Join(s.root, stateFile))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return gcState{}, false
	}
	return st, true
}

// measure sums the objects' recorded sizes and the caches' sizes (walking
// only those used since prev measured them) and records the result.
func (s *Store) measure(prev gcState) (gcState, error) {
	// Real time, not s.now: it is compared with the folders' times.
	st := gcState{Measured: time.Now().UnixNano(), Caches: map[string]cacheState{}}
	ents, err := s.scan(pLayer, pBlob)
	if err != nil {
		return st, fmt.Errorf("measuring store %s: %w", s.root, err)
	}
	for _, e := range ents {
		if m, err := decodeObject(e.V); err == nil {
			st.Objects += m.size
		}
	}
	cs, err := s.caches(prev.Caches)
	if err != nil {
		return st, err
	}
	for _, c := range cs {
		st.Caches[c.name] = cacheState{Used: c.used.UnixNano(), Bytes: c.size}
	}
	return st, s.writeState(st)
}

func (s *Store) writeState(st gcState) error {
	if s.readOnly {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.root, stateFile), b, 0o644); err != nil {
		return fmt.Errorf("recording the size of store %s: %w", s.root, err)
	}
	return nil
}

// AutoReport is what an automatic collection did.
type AutoReport struct {
	GCReport
	// Caches and CacheBytes count the cache mounts removed.
	Caches     int
	CacheBytes int64
	// Skipped is set when another collection or a verify was running:
	// that one will do.
	Skipped bool
	Took    time.Duration
	// Left is the measured size of objects and caches afterwards.
	Left int64
}

// Freed is every byte the collection removed.
func (r AutoReport) Freed() int64 { return r.BytesFreed + r.CacheBytes }

// AutoGC collects what c does not keep, given the pressure CheckBudget
// found. What live processes hold is kept; so is what this one holds
// when keepOwn is set (a collection in the middle of this process's
// build). It never waits for another collection: when one is running,
// it returns with Skipped set.
func (s *Store) AutoGC(c GCConfig, p Pressure, keepOwn bool) (AutoReport, error) {
	start := time.Now()
	var rep AutoReport
	if err := s.writable(); err != nil {
		return rep, err
	}
	unlock, ok, err := s.tryMaintenance()
	if err != nil || !ok {
		rep.Skipped = err == nil
		return rep, err
	}
	defer unlock()
	target := c.KeepBytes
	if p.LowFree {
		// Free what is missing, and as much again, so that a build
		// writing steadily does not start a collection per step.
		target = min(target, p.Objects+p.Caches-2*(c.MinFree-p.Free))
	}
	caches, err := s.caches(nil)
	if err != nil {
		return rep, err
	}
	cacheTotal := int64(0)
	for _, ch := range caches {
		cacheTotal += ch.size
	}
	// Caches over their own budget go first, least recently used first;
	// within it they give way only to what roots keep (below).
	cacheTotal, err = s.pruneCaches(caches, c.CacheKeepBytes, c.CacheKeepDuration, cacheTotal, &rep)
	if err != nil {
		return rep, err
	}
	objBudget := max(target-cacheTotal, 1) // 0 would mean no budget at all
	gr, err := s.collectGarbage(GCPolicy{
		KeepBytes:           objBudget,
		KeepDuration:        c.KeepDuration,
		SourcesKeepDuration: c.SourcesKeepDuration,
		SourcesLast:         true,
		LogsKeepDuration:    logsKeep,
		KeepOwn:             keepOwn,
	})
	rep.GCReport = gr
	if err != nil {
		return rep, err
	}
	// What roots keep may leave the store over budget: then the caches
	// give way too, down to nothing if need be.
	if over := gr.BytesKept + cacheTotal - target; over > 0 {
		if cacheTotal, err = s.pruneCaches(caches, max(cacheTotal-over, 0), c.CacheKeepDuration, cacheTotal, &rep); err != nil {
			return rep, err
		}
	}
	st, err := s.measure(gcState{})
	if err != nil {
		return rep, err
	}
	rep.Left = st.Objects + st.cacheBytes()
	rep.Took = time.Since(start)
	return rep, nil
}

// pruneCaches removes caches (least recently used first, those used
// within keep excepted) until their total is at most budget, and returns
// the new total.
func (s *Store) pruneCaches(caches []cacheInfo, budget int64, keep time.Duration, total int64, rep *AutoReport) (int64, error) {
	now := s.now()
	for i := range caches {
		ch := &caches[i]
		if total <= budget {
			break
		}
		if ch.name == "" || keep > 0 && now.Sub(ch.used) < keep {
			continue
		}
		removed, err := s.removeCache(ch.name)
		if err != nil {
			return total, err
		}
		if removed {
			total -= ch.size
			rep.Caches++
			rep.CacheBytes += ch.size
			ch.name = "" // gone: a second pass skips it
		}
	}
	return total, nil
}

// tryMaintenance is lockMaintenance without waiting: ok is false while
// another collection or a verify runs.
func (s *Store) tryMaintenance() (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(filepath.Join(s.root, "gc.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("locking store %s for maintenance: %w", s.root, err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("locking store %s for maintenance: %w", s.root, err)
	}
	return func() { f.Close() }, true, nil
}

// Budget is what kiln store du shows of the policy: the sizes it
// compares, and what an automatic collection would remove now.
type Budget struct {
	Pressure
	// Derivations, Layers, Blobs and CacheMounts count what would go;
	// Bytes is their size.
	Derivations, Layers, Blobs, CacheMounts int
	Bytes                                   int64
}

// PlanAuto says what an automatic collection under c would remove now,
// removing nothing. Temp roots of live processes are not read: what they
// hold would be kept at the time of a real collection.
func (s *Store) PlanAuto(c GCConfig) (Budget, error) {
	var b Budget
	free, err := freeBytes(s.root)
	if err != nil {
		return b, err
	}
	snap, err := s.snapshot()
	if err != nil {
		return b, err
	}
	caches, err := s.caches(nil)
	if err != nil {
		return b, err
	}
	b.Free = free
	for _, m := range snap.layers {
		b.Objects += m.size
	}
	for _, m := range snap.blobs {
		b.Objects += m.size
	}
	for _, ch := range caches {
		b.Caches += ch.size
	}
	b.judge(c)
	if b.Reason == "" {
		return b, nil // no collection would run
	}
	target := c.KeepBytes
	if b.LowFree {
		target = min(target, b.Objects+b.Caches-2*(c.MinFree-free))
	}
	now := s.now()
	cacheTotal := b.Caches
	for _, ch := range caches {
		if cacheTotal <= c.CacheKeepBytes {
			break
		}
		if c.CacheKeepDuration > 0 && now.Sub(ch.used) < c.CacheKeepDuration {
			continue
		}
		cacheTotal -= ch.size
		b.CacheMounts++
		b.Bytes += ch.size
	}
	plan := planGC(snap, GCPolicy{
		KeepBytes:           max(target-cacheTotal, 1),
		KeepDuration:        c.KeepDuration,
		SourcesKeepDuration: c.SourcesKeepDuration,
		SourcesLast:         true,
	}, now)
	b.Derivations = len(plan.drvs)
	for k := range plan.objects {
		m, _ := snap.object(k)
		b.Bytes += m.size
		if k.kind == pLayer {
			b.Layers++
		} else {
			b.Blobs++
		}
	}
	return b, nil
}
