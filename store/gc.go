package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// GCPolicy says what GC may remove, after BuildKit's gcpolicy. Whatever a
// root reaches is always kept. Among the rest, outputs and objects used
// within KeepDuration are kept; then the least recently used objects are
// removed until the store's objects total at most KeepBytes. KeepBytes <= 0
// means no size allowance: everything not kept by a root or by KeepDuration
// goes. All removes everything no root reaches, whatever the other fields.
type GCPolicy struct {
	KeepDuration time.Duration
	KeepBytes    int64
	All          bool

	// SourcesKeepDuration keeps the outputs of sources and fixed-output
	// steps (ClassSource) used within it, and SourcesLast removes, over
	// budget, every other unkept object before any of theirs: what is
	// fetched from outside is the slowest to get back (see policy.go).
	SourcesKeepDuration time.Duration
	SourcesLast         bool
	// LogsKeepDuration keeps the logs of failed builds at least this long,
	// whatever KeepDuration says.
	LogsKeepDuration time.Duration
	// KeepOwn counts the temp roots of this Store too: for a collection
	// while this process is building (see AutoGC).
	KeepOwn bool
}

// GCReport says what GC removed and what is left.
type GCReport struct {
	Derivations int
	Layers      int
	Blobs       int
	Logs        int
	// Orphans counts objects found on disk without an index entry (left by
	// a crash between rename and index), which GC removes too.
	Orphans int
	// BytesFreed is the recorded size of the removed layers and blobs plus
	// the size of removed logs.
	BytesFreed int64
	// BytesKept is the recorded size of the layers and blobs left.
	BytesKept int64
}

// GC removes what the policy does not keep. It runs next to builds of
// other processes without stopping them: what a live process looked up,
// added or recorded (its temp roots) is kept whatever the policy says, and
// so is what they reference. Index entries go first (records and the
// objects they name in one transaction), then the files, each under its
// key lock, so that a crash during GC leaves at worst unindexed objects,
// never an entry naming a missing object. The temp roots of this Store
// itself do not count: its caller knows what it is collecting.
func (s *Store) GC(p GCPolicy) (GCReport, error) {
	var rep GCReport
	if err := s.writable(); err != nil {
		return rep, err
	}
	unlock, err := s.lockMaintenance()
	if err != nil {
		return rep, err
	}
	defer unlock()
	return s.collectGarbage(p)
}

// collectGarbage is GC once the maintenance lock is held.
func (s *Store) collectGarbage(p GCPolicy) (GCReport, error) {
	var rep GCReport
	if !p.KeepOwn {
		// A collection next to this process's own adds guards them with
		// their temp roots and key locks instead, and must not hold
		// them up for its whole length.
		s.gcMu.Lock()
		defer s.gcMu.Unlock()
	}
	if err := s.flushTouches(); err != nil {
		return rep, err
	}
	snap, err := s.snapshot()
	if err != nil {
		return rep, err
	}
	if snap.badRoots > 0 {
		// What an unreadable root keeps alive is unknown: collecting
		// without it could remove what it protects.
		return rep, fmt.Errorf("collecting garbage: %d GC roots of store %s are unreadable; run kiln store verify --repair to drop them, then collect again", snap.badRoots, s.root)
	}
	plan := planGC(snap, p, s.now())
	removedDrv, err := s.removeIndexed(snap, plan, p.KeepOwn, &rep)
	if err != nil {
		return rep, fmt.Errorf("collecting garbage: %w", err)
	}
	if err := s.removeOrphans(snap, &rep); err != nil {
		return rep, fmt.Errorf("collecting garbage: %w", err)
	}
	logRecent := func(t time.Time) bool { return plan.recent(t) || s.now().Sub(t) < p.LogsKeepDuration }
	if err := s.removeLogs(snap, removedDrv, logRecent, p.KeepOwn, &rep); err != nil {
		return rep, fmt.Errorf("collecting garbage: %w", err)
	}
	return rep, nil
}

// gcPlan is what a policy would remove from a snapshot.
type gcPlan struct {
	drvs    map[digest.Digest]bool
	objects map[objKey]bool
	recent  func(time.Time) bool
}

// planGC decides what p removes from snap: first the least recently used
// objects nothing keeps, until the store fits the size allowance; then the
// records that name a removed object or derivation (or, without a size
// allowance, that nothing keeps).
func planGC(snap *snapshot, p GCPolicy, now time.Time) gcPlan {
	plan := gcPlan{recent: func(t time.Time) bool {
		return !p.All && p.KeepDuration > 0 && now.Sub(t) < p.KeepDuration
	}}
	srcRecent := func(rec record) bool {
		return !p.All && isSource(rec) && now.Sub(rec.used) < p.SourcesKeepDuration
	}
	keptDrv := snap.closure(keptStart(snap, plan.recent, srcRecent))
	keptObj := map[objKey]bool{}
	for d := range keptDrv {
		for _, k := range objectsOf(snap.records[d]) {
			keptObj[k] = true
		}
	}
	budget := !p.All && p.KeepBytes > 0
	used, total := lastUses(snap)
	plan.objects = map[objKey]bool{}
	cands := candidates(snap, used, keptObj, plan.recent)
	if p.SourcesLast {
		sourcesLast(snap, cands)
	}
	for _, c := range cands {
		if budget && total <= p.KeepBytes {
			break
		}
		plan.objects[c.k] = true
		total -= c.size
	}
	plan.drvs = doomedRecords(snap, keptDrv, plan.objects, budget)
	return plan
}

// keptStart is where keeping starts: every root, and each record used
// recently.
func keptStart(snap *snapshot, recent func(time.Time) bool, srcRecent func(record) bool) []digest.Digest {
	var start []digest.Digest
	for _, ds := range snap.roots {
		start = append(start, ds...)
	}
	for d, rec := range snap.records {
		if recent(rec.used) || srcRecent(rec) {
			start = append(start, d)
		}
	}
	return start
}

// lastUses returns each object's last use, its own (added, re-added) or
// that of any output naming it, whichever is later, and the objects'
// total size.
func lastUses(snap *snapshot) (map[objKey]time.Time, int64) {
	used := map[objKey]time.Time{}
	var total int64
	for d, m := range snap.layers {
		used[objKey{pLayer, d}] = m.used
		total += m.size
	}
	for d, m := range snap.blobs {
		used[objKey{pBlob, d}] = m.used
		total += m.size
	}
	for _, rec := range snap.records {
		for _, k := range objectsOf(rec) {
			if t, ok := used[k]; ok {
				used[k] = maxTime(t, rec.used)
			}
		}
	}
	return used, total
}

type gcCandidate struct {
	k    objKey
	used time.Time
	size int64
}

// candidates are the objects GC may remove, least recently used first.
func candidates(snap *snapshot, used map[objKey]time.Time, kept map[objKey]bool, recent func(time.Time) bool) []gcCandidate {
	var cands []gcCandidate
	for k, t := range used {
		if kept[k] || recent(t) {
			continue
		}
		m, _ := snap.object(k)
		cands = append(cands, gcCandidate{k, t, m.size})
	}
	slices.SortFunc(cands, func(a, b gcCandidate) int {
		return cmp.Or(a.used.Compare(b.used), strings.Compare(string(a.k.d), string(b.k.d)), cmp.Compare(a.k.kind, b.k.kind))
	})
	return cands
}

// doomedRecords returns the records that go: those naming a removed object,
// referencing a removed or missing derivation, and, without a size
// allowance, every one nothing keeps.
func doomedRecords(snap *snapshot, kept map[digest.Digest]bool, objects map[objKey]bool, budget bool) map[digest.Digest]bool {
	doomed := map[digest.Digest]bool{}
	for changed := true; changed; {
		changed = false
		for d, rec := range snap.records {
			if doomed[d] || kept[d] {
				continue
			}
			gone := !budget
			for _, k := range objectsOf(rec) {
				gone = gone || objects[k]
			}
			for _, r := range rec.refs {
				gone = gone || doomed[r] || snap.records[r].used.IsZero()
			}
			if gone {
				doomed[d] = true
				changed = true
			}
		}
	}
	return doomed
}

// collectBatch bounds the keys of one collect transaction.
const collectBatch = 2000

// removeIndexed removes the planned entries from the index, less what live
// processes hold, and then the files of the objects that went. It returns
// the derivations whose records went.
func (s *Store) removeIndexed(snap *snapshot, plan gcPlan, keepOwn bool, rep *GCReport) (map[digest.Digest]bool, error) {
	except := s.token()
	if keepOwn {
		except = ""
	}
	var keys [][]byte
	for d := range plan.drvs {
		k, _ := key(pOutput, d)
		keys = append(keys, k)
	}
	for k := range plan.objects {
		keys = append(keys, k.indexKey())
	}
	// In transactions of a bounded size (badger refuses one too big),
	// records before objects: a record that a live process holds keeps
	// its objects in every later transaction too, and one deleted names
	// nothing any more.
	var gone [][]byte
	for len(keys) > 0 {
		n := min(len(keys), collectBatch)
		var g [][]byte
		err := s.ix.do(func(ix kv) (err error) {
			g, err = ix.collect(keys[:n], except)
			return err
		})
		if err != nil {
			return nil, err
		}
		gone = append(gone, g...)
		keys = keys[n:]
	}
	removedDrv := map[digest.Digest]bool{}
	for _, k := range gone {
		d := fromRaw(k[1:])
		if k[0] == pOutput {
			removedDrv[d] = true
			continue
		}
		ok := objKey{k[0], d}
		removed, err := s.removeObject(ok, false)
		if err != nil {
			return nil, err
		}
		if !removed {
			continue
		}
		m, _ := snap.object(ok)
		rep.BytesFreed += m.size
		if ok.kind == pLayer {
			rep.Layers++
		} else {
			rep.Blobs++
		}
	}
	rep.Derivations = len(removedDrv)
	for _, m := range snap.layers {
		rep.BytesKept += m.size
	}
	for _, m := range snap.blobs {
		rep.BytesKept += m.size
	}
	rep.BytesKept -= rep.BytesFreed
	return removedDrv, nil
}

// removeObject deletes the file or tree of an object that is not indexed,
// under its key lock and after checking again that it is not: an add in
// another process may have indexed it again since. With busyOK, an object
// whose lock is held (an add in progress) is left alone instead of waited
// for. It reports whether it removed anything.
func (s *Store) removeObject(k objKey, busyOK bool) (bool, error) {
	ik := k.indexKey()
	l, err := s.lockKey(context.Background(), ik, !busyOK)
	if err != nil || l == nil {
		return false, err
	}
	defer l.unlock()
	if _, found, err := s.get(ik); err != nil || found[0] {
		return false, err
	}
	path := s.objectPath(k.dirName(), k.d)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := s.discard(path); err != nil {
		return false, fmt.Errorf("removing %s: %w", path, err)
	}
	return true, nil
}

// removeOrphans removes objects on disk without an index entry: leftovers
// of a crash between rename and index (an add in progress holds its key
// lock and is skipped).
func (s *Store) removeOrphans(snap *snapshot, rep *GCReport) error {
	for _, dir := range []struct {
		kind  byte
		index map[digest.Digest]objectMeta
	}{{pLayer, snap.layers}, {pBlob, snap.blobs}} {
		k := objKey{kind: dir.kind}
		ents, err := os.ReadDir(filepath.Join(s.root, k.dirName()))
		if err != nil {
			return err
		}
		for _, e := range ents {
			d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
			if _, ok := dir.index[d]; ok || !validHex(e.Name()) {
				continue
			}
			removed, err := s.removeObject(objKey{dir.kind, d}, true)
			if err != nil {
				return err
			}
			if removed {
				rep.Orphans++
			}
		}
	}
	return nil
}

// removeLogs removes the logs of removed records, and logs of failed
// builds (no record) once they age out. A log of a derivation a live
// process holds stays: it may be about to record it.
func (s *Store) removeLogs(snap *snapshot, removedDrv map[digest.Digest]bool, recent func(time.Time) bool, keepOwn bool, rep *GCReport) error {
	ents, err := os.ReadDir(filepath.Join(s.root, "logs"))
	if err != nil {
		return err
	}
	except := s.token()
	if keepOwn {
		except = ""
	}
	held, err := liveRoots(s.root, except)
	if err != nil {
		return err
	}
	for _, e := range ents {
		hexName, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || !validHex(hexName) {
			continue
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, hexName)
		if _, recorded := snap.records[d]; recorded && !removedDrv[d] {
			continue
		}
		if k, _ := key(pOutput, d); held[string(k)] {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if !removedDrv[d] && recent(info.ModTime()) {
			continue
		}
		if err := os.Remove(filepath.Join(s.root, "logs", e.Name())); err != nil && !os.IsNotExist(err) {
			return err
		}
		rep.Logs++
		rep.BytesFreed += info.Size()
	}
	return nil
}

// deleteKeys removes index entries and syncs.
func (s *Store) deleteKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	return s.write(batch{Del: keys, Sync: true})
}

// lockMaintenance keeps GC and Verify of several processes from running at
// once: each trusts that the objects of its snapshot stay in place. Builds
// never take it.
func (s *Store) lockMaintenance() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, "gc.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil && s.readOnly {
		return func() {}, nil // a reader that cannot lock checks without
	}
	if err != nil {
		return nil, fmt.Errorf("locking store %s for maintenance: %w", s.root, err)
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking store %s for maintenance: %w", s.root, err)
	}
	return func() { f.Close() }, nil
}
