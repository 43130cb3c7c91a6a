package store

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/opencontainers/go-digest"
)

// snapshot is the whole index in memory, for GC, listing and verification.
// The index holds a few hundred bytes per object, so even a large store fits.
type snapshot struct {
	records map[digest.Digest]record
	layers  map[digest.Digest]objectMeta
	blobs   map[digest.Digest]objectMeta
	roots   map[string][]digest.Digest
	// bad lists index keys whose values cannot be decoded; badRoots
	// counts the roots among them.
	bad      [][]byte
	badRoots int
}

func (s *Store) snapshot() (*snapshot, error) {
	snap := &snapshot{
		records: map[digest.Digest]record{},
		layers:  map[digest.Digest]objectMeta{},
		blobs:   map[digest.Digest]objectMeta{},
	}
	err := s.view(func(txn *badger.Txn) error {
		objects := func(prefix byte, into map[digest.Digest]objectMeta) error {
			return scan(txn, prefix, func(k, v []byte) error {
				m, err := decodeObject(v)
				if err != nil || len(k) != 32 {
					snap.bad = append(snap.bad, append([]byte{prefix}, k...))
					return nil
				}
				into[fromRaw(k)] = m
				return nil
			})
		}
		if err := objects(pLayer, snap.layers); err != nil {
			return err
		}
		if err := objects(pBlob, snap.blobs); err != nil {
			return err
		}
		intern := map[[32]byte]digest.Digest{}
		if err := scan(txn, pOutput, func(k, v []byte) error {
			rec, err := decodeRecord(v, intern)
			if err != nil || len(k) != 32 {
				snap.bad = append(snap.bad, append([]byte{pOutput}, k...))
				return nil
			}
			snap.records[fromRaw(k)] = rec
			return nil
		}); err != nil {
			return err
		}
		// An unreadable root is listed in bad, like any other entry, so
		// that Verify can report and drop it; failing here would leave a
		// store that not even Verify could repair.
		snap.roots = map[string][]digest.Digest{}
		return scan(txn, pRoot, func(k, v []byte) error {
			ds, err := decodeRoot(v)
			if err != nil {
				snap.bad = append(snap.bad, append([]byte{pRoot}, k...))
				snap.badRoots++
				return nil
			}
			snap.roots[string(k)] = ds
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading the index of store %s: %w", s.root, err)
	}
	return snap, nil
}

// closure returns the derivations reachable from start through refs.
func (snap *snapshot) closure(start []digest.Digest) map[digest.Digest]bool {
	seen := map[digest.Digest]bool{}
	stack := append([]digest.Digest(nil), start...)
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		rec, ok := snap.records[d]
		if !ok || seen[d] {
			continue
		}
		seen[d] = true
		stack = append(stack, rec.refs...)
	}
	return seen
}

// objectsOf returns the index keys of the objects a record names.
func objectsOf(rec record) []objKey {
	keys := make([]objKey, 0, len(rec.out.Layers)+1)
	for _, l := range rec.out.Layers {
		keys = append(keys, objKey{pLayer, l})
	}
	for _, b := range rec.out.Blobs {
		keys = append(keys, objKey{pBlob, b})
	}
	return keys
}

// objKey names a layer or a blob.
type objKey struct {
	kind byte
	d    digest.Digest
}

func (k objKey) indexKey() []byte {
	b, _ := key(k.kind, k.d)
	return b
}

func (k objKey) kindName() string {
	if k.kind == pLayer {
		return KindLayer
	}
	return KindBlob
}

func (snap *snapshot) object(k objKey) (objectMeta, bool) {
	if k.kind == pLayer {
		m, ok := snap.layers[k.d]
		return m, ok
	}
	m, ok := snap.blobs[k.d]
	return m, ok
}

// rootsOf maps each object and derivation to the names of the roots that
// keep it alive.
func (snap *snapshot) rootsOf() (drvs map[digest.Digest][]string, objs map[objKey][]string) {
	drvs = map[digest.Digest][]string{}
	objs = map[objKey][]string{}
	for _, name := range sortedNames(snap.roots) {
		seenObj := map[objKey]bool{}
		for d := range snap.closure(snap.roots[name]) {
			drvs[d] = append(drvs[d], name)
			for _, k := range objectsOf(snap.records[d]) {
				if !seenObj[k] {
					seenObj[k] = true
					objs[k] = append(objs[k], name)
				}
			}
		}
	}
	return drvs, objs
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
