package store

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/opencontainers/go-digest"
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

// GC removes what the policy does not keep. Index entries go first (records
// before the objects they name), then the files, so that a crash during GC
// leaves at worst unindexed objects, never an entry naming a missing object.
func (s *Store) GC(p GCPolicy) (GCReport, error) {
	var rep GCReport
	if err := s.writable(); err != nil {
		return rep, err
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
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
	now := s.now()
	recent := func(t time.Time) bool {
		return !p.All && p.KeepDuration > 0 && now.Sub(t) < p.KeepDuration
	}

	var keepStart []digest.Digest
	for _, ds := range snap.roots {
		keepStart = append(keepStart, ds...)
	}
	for d, rec := range snap.records {
		if recent(rec.used) {
			keepStart = append(keepStart, d)
		}
	}
	keptDrv := snap.closure(keepStart)
	keptObj := map[objKey]bool{}
	for d := range keptDrv {
		for _, k := range objectsOf(snap.records[d]) {
			keptObj[k] = true
		}
	}

	// An object's last use is its own (added, re-added) or that of any
	// output naming it, whichever is later.
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
	type cand struct {
		k    objKey
		used time.Time
		size int64
	}
	var cands []cand
	for k, t := range used {
		if keptObj[k] || recent(t) {
			continue
		}
		m, _ := snap.object(k)
		cands = append(cands, cand{k, t, m.size})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(a.used.Compare(b.used), strings.Compare(string(a.k.d), string(b.k.d)), cmp.Compare(a.k.kind, b.k.kind))
	})
	budget := !p.All && p.KeepBytes > 0
	removedObj := map[objKey]bool{}
	for _, c := range cands {
		if budget && total <= p.KeepBytes {
			break
		}
		removedObj[c.k] = true
		total -= c.size
		rep.BytesFreed += c.size
	}

	// A record goes with any object it names, with any derivation it
	// references, and, without a size allowance, whenever nothing keeps it.
	removedDrv := map[digest.Digest]bool{}
	for changed := true; changed; {
		changed = false
		for d, rec := range snap.records {
			if removedDrv[d] || keptDrv[d] {
				continue
			}
			gone := !budget
			for _, k := range objectsOf(rec) {
				gone = gone || removedObj[k]
			}
			for _, r := range rec.refs {
				gone = gone || removedDrv[r] || snap.records[r].used.IsZero()
			}
			if gone {
				removedDrv[d] = true
				changed = true
			}
		}
	}

	var drvKeys, objKeys [][]byte
	for d := range removedDrv {
		k, _ := key(pOutput, d)
		drvKeys = append(drvKeys, k)
	}
	for k := range removedObj {
		objKeys = append(objKeys, k.indexKey())
	}
	if err := s.deleteKeys(drvKeys); err != nil {
		return rep, fmt.Errorf("collecting garbage: %w", err)
	}
	if err := s.deleteKeys(objKeys); err != nil {
		return rep, fmt.Errorf("collecting garbage: %w", err)
	}

	for k := range removedObj {
		path := s.objectPath(map[byte]string{pLayer: "layers", pBlob: "blobs"}[k.kind], k.d)
		if err := s.discard(path); err != nil {
			return rep, fmt.Errorf("collecting garbage: removing %s: %w", path, err)
		}
		if k.kind == pLayer {
			rep.Layers++
		} else {
			rep.Blobs++
		}
	}
	rep.Derivations = len(removedDrv)
	rep.BytesKept = total

	// Objects on disk without an index entry are leftovers of a crash.
	for _, dir := range []struct {
		name  string
		index map[digest.Digest]objectMeta
	}{{"layers", snap.layers}, {"blobs", snap.blobs}} {
		ents, err := os.ReadDir(filepath.Join(s.root, dir.name))
		if err != nil {
			return rep, fmt.Errorf("collecting garbage: %w", err)
		}
		for _, e := range ents {
			d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
			if _, ok := dir.index[d]; ok || !validHex(e.Name()) {
				continue
			}
			if err := s.discard(filepath.Join(s.root, dir.name, e.Name())); err != nil {
				return rep, fmt.Errorf("collecting garbage: %w", err)
			}
			rep.Orphans++
		}
	}

	// Logs go with their record; logs of failed builds (no record) age out.
	ents, err := os.ReadDir(filepath.Join(s.root, "logs"))
	if err != nil {
		return rep, fmt.Errorf("collecting garbage: %w", err)
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
		info, err := e.Info()
		if err != nil {
			continue
		}
		if !removedDrv[d] && recent(info.ModTime()) {
			continue
		}
		if err := os.Remove(filepath.Join(s.root, "logs", e.Name())); err != nil && !os.IsNotExist(err) {
			return rep, fmt.Errorf("collecting garbage: %w", err)
		}
		rep.Logs++
		rep.BytesFreed += info.Size()
	}
	return rep, nil
}

// deleteKeys removes index entries in batches.
func (s *Store) deleteKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	return s.withWriteDB(func(db *badger.DB) error {
		wb := db.NewWriteBatch()
		defer wb.Cancel()
		for _, k := range keys {
			if err := wb.Delete(k); err != nil {
				return err
			}
		}
		if err := wb.Flush(); err != nil {
			return err
		}
		return db.Sync()
	})
}
