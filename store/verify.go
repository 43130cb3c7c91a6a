package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Problem is an inconsistency Verify found.
type Problem struct {
	Kind   string
	Digest digest.Digest
	// What says what is wrong, for a person.
	What string
}

func (p Problem) String() string { return fmt.Sprintf("%s %s: %s", p.Kind, p.Digest, p.What) }

// VerifyReport is what Verify checked and found.
type VerifyReport struct {
	// Derivations, Layers and Blobs count the index entries checked.
	Derivations, Layers, Blobs int
	// Problems are inconsistencies: an index entry naming a missing or
	// corrupt object, a record naming an object or derivation that is not in
	// the store, an unreadable index entry.
	Problems []Problem
	// Orphans are objects on disk without an index entry. They are what a
	// crash between rename and index leaves; normal operation tolerates
	// them, so they do not make the store inconsistent.
	Orphans []string
	// Stale are leftovers in tmp of a process that died.
	Stale []string
	// Unmounted are mount points a killed process left in tmp, which
	// opening the store unmounted (they kept tmp from being cleaned).
	Unmounted []string
	// Repaired is set when repair was asked for and done: problems dropped
	// from the index (and corrupt objects deleted), orphans and stale
	// entries removed.
	Repaired bool
}

// Consistent reports whether Verify found no problems (orphans and stale
// temp entries are harmless).
func (r VerifyReport) Consistent() bool { return len(r.Problems) == 0 }

// RehashFunc computes the digest of the object of the given kind at path.
type RehashFunc = func(kind string, d digest.Digest, path string) (digest.Digest, error)

// Verify checks the index against the disk both ways and rehashes every
// object: blobs itself, layers through rehash (the canonical tar hash of a
// tree belongs to store/layer); a nil rehash only checks that each layer
// exists. With repair, it drops index entries of missing or corrupt objects
// and the records naming them, deletes corrupt objects, and removes orphans
// and stale temp entries, leaving a store that rebuilds what was lost.
func (s *Store) Verify(repair bool, rehash RehashFunc) (VerifyReport, error) {
	var rep VerifyReport
	if repair {
		if err := s.writable(); err != nil {
			return rep, err
		}
	}
	unlock, err := s.lockMaintenance()
	if err != nil {
		return rep, err
	}
	defer unlock()
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	snap, err := s.snapshot()
	if err != nil {
		return rep, err
	}
	rep.Derivations, rep.Layers, rep.Blobs = len(snap.records), len(snap.layers), len(snap.blobs)

	var dropKeys [][]byte // index entries to delete, records last
	for _, k := range snap.bad {
		rep.Problems = append(rep.Problems, Problem{Kind: "index", Digest: "", What: fmt.Sprintf("unreadable entry %x", k)})
		dropKeys = append(dropKeys, k)
	}
	badObj := map[objKey]bool{}
	var corrupt []string
	check := func(k objKey, m objectMeta) {
		path := s.objectPath(map[byte]string{pLayer: "layers", pBlob: "blobs"}[k.kind], k.d)
		what, isCorrupt := s.checkObject(k, m, path, rehash)
		if what == "" {
			return
		}
		rep.Problems = append(rep.Problems, Problem{Kind: k.kindName(), Digest: k.d, What: what})
		badObj[k] = true
		if isCorrupt {
			corrupt = append(corrupt, path)
		}
	}
	for _, d := range sortedDigests(snap.layers) {
		check(objKey{pLayer, d}, snap.layers[d])
	}
	for _, d := range sortedDigests(snap.blobs) {
		check(objKey{pBlob, d}, snap.blobs[d])
	}

	badDrv := map[digest.Digest]bool{}
	drvs := sortedDigests(snap.records)
	for changed := true; changed; {
		changed = false
		for _, d := range drvs {
			if badDrv[d] {
				continue
			}
			rec := snap.records[d]
			var what string
			for _, k := range objectsOf(rec) {
				if _, ok := snap.object(k); !ok {
					what = fmt.Sprintf("names %s %s, which is not in the store", k.kindName(), k.d)
				} else if badObj[k] {
					what = fmt.Sprintf("names %s %s, which is damaged", k.kindName(), k.d)
				}
			}
			for _, r := range rec.refs {
				if _, ok := snap.records[r]; !ok || badDrv[r] {
					what = fmt.Sprintf("references derivation %s, which is not in the store", r)
				}
			}
			if what != "" {
				rep.Problems = append(rep.Problems, Problem{Kind: KindDerivation, Digest: d, What: what})
				badDrv[d] = true
				changed = true
			}
		}
	}

	for _, dir := range []struct {
		name  string
		kind  byte
		index map[digest.Digest]objectMeta
	}{{"layers", pLayer, snap.layers}, {"blobs", pBlob, snap.blobs}} {
		ents, err := os.ReadDir(filepath.Join(s.root, dir.name))
		if err != nil {
			return rep, fmt.Errorf("verifying store %s: %w", s.root, err)
		}
		for _, e := range ents {
			d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
			if _, ok := dir.index[d]; ok && validHex(e.Name()) {
				continue
			}
			if validHex(e.Name()) && s.adding(dir.kind, d) {
				continue
			}
			rep.Orphans = append(rep.Orphans, filepath.Join(s.root, dir.name, e.Name()))
		}
	}
	if rep.Stale, err = s.deadTemps(); err != nil {
		return rep, fmt.Errorf("verifying store %s: %w", s.root, err)
	}
	s.mu.Lock()
	rep.Unmounted = slices.Clone(s.unmounted)
	s.mu.Unlock()

	if !repair {
		return rep, nil
	}
	var drvKeys, objKeys [][]byte
	for d := range badDrv {
		k, _ := key(pOutput, d)
		drvKeys = append(drvKeys, k)
	}
	for k := range badObj {
		objKeys = append(objKeys, k.indexKey())
	}
	for _, keys := range [][][]byte{drvKeys, dropKeys, objKeys} {
		if err := s.deleteKeys(keys); err != nil {
			return rep, fmt.Errorf("repairing store %s: %w", s.root, err)
		}
	}
	for _, p := range rep.Stale {
		points, err := unmountBelow(p)
		rep.Unmounted = append(rep.Unmounted, points...)
		if err != nil {
			return rep, fmt.Errorf("repairing store %s: %w", s.root, err)
		}
	}
	for _, p := range rep.Orphans {
		// Removed as GC removes one, under its key lock, in case another
		// process is adding it right now.
		kind := map[string]byte{"layers": pLayer, "blobs": pBlob}[filepath.Base(filepath.Dir(p))]
		name := filepath.Base(p)
		if validHex(name) {
			if _, err := s.removeObject(objKey{kind, digest.NewDigestFromEncoded(digest.SHA256, name)}, true); err != nil {
				return rep, fmt.Errorf("repairing store %s: removing %s: %w", s.root, p, err)
			}
			continue
		}
		if err := s.discard(p); err != nil {
			return rep, fmt.Errorf("repairing store %s: removing %s: %w", s.root, p, err)
		}
	}
	for _, p := range slices.Concat(corrupt, rep.Stale) {
		if err := s.discard(p); err != nil {
			return rep, fmt.Errorf("repairing store %s: removing %s: %w", s.root, p, err)
		}
	}
	rep.Repaired = true
	return rep, nil
}

// adding reports whether another process is adding the object right now
// (holds its key lock, or has indexed it since the snapshot): an object on
// disk without an index entry is then an add in progress, not an orphan.
func (s *Store) adding(kind byte, d digest.Digest) bool {
	k := objKey{kind, d}.indexKey()
	l, err := s.lockKey(context.Background(), k, false)
	if err != nil || l == nil {
		return true
	}
	defer l.unlock()
	_, found, err := s.get(k)
	return err != nil || found[0]
}

// checkObject returns what is wrong with one indexed object ("" if
// nothing), and whether the object exists but is corrupt.
func (s *Store) checkObject(k objKey, m objectMeta, path string, rehash RehashFunc) (string, bool) {
	info, err := os.Lstat(path)
	if os.IsNotExist(err) {
		return "missing from " + path, false
	}
	if err != nil {
		return err.Error(), false
	}
	if k.kind == pLayer {
		if !info.IsDir() {
			return path + " is not a directory", true
		}
		if rehash == nil {
			return "", false
		}
		got, err := rehash(KindLayer, k.d, path)
		if err != nil {
			return "rehashing: " + err.Error(), true
		}
		if got != k.d {
			return fmt.Sprintf("content hashes to %s", got), true
		}
		return "", false
	}
	if !info.Mode().IsRegular() {
		return path + " is not a regular file", true
	}
	f, err := os.Open(path)
	if err != nil {
		return err.Error(), false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "reading: " + err.Error(), true
	}
	if got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)); got != k.d {
		return fmt.Sprintf("content hashes to %s", got), true
	}
	if n != m.size {
		return fmt.Sprintf("size is %d, the index says %d", n, m.size), true
	}
	return "", false
}

func sortedDigests[V any](m map[digest.Digest]V) []digest.Digest {
	ds := make([]digest.Digest, 0, len(m))
	for d := range m {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b digest.Digest) int { return strings.Compare(string(a), string(b)) })
	return ds
}
