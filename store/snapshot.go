package store

import (
	"fmt"
	"time"

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
		roots:   map[string][]digest.Digest{},
	}
	ents, err := s.scan(pLayer, pBlob, pOutput, pRoot)
	if err != nil {
		return nil, fmt.Errorf("reading the index of store %s: %w", s.root, err)
	}
	intern := map[[32]byte]digest.Digest{}
	for _, e := range ents {
		prefix, k, v := e.K[0], e.K[1:], e.V
		switch prefix {
		case pLayer, pBlob:
			m, err := decodeObject(v)
			if err != nil || len(k) != 32 {
				snap.bad = append(snap.bad, e.K)
				continue
			}
			if prefix == pLayer {
				snap.layers[fromRaw(k)] = m
			} else {
				snap.blobs[fromRaw(k)] = m
			}
		case pOutput:
			rec, err := decodeRecord(v, intern)
			if err != nil || len(k) != 32 {
				snap.bad = append(snap.bad, e.K)
				continue
			}
			snap.records[fromRaw(k)] = rec
		case pRoot:
			// An unreadable root is listed in bad, like any other entry,
			// so that Verify can report and drop it; failing here would
			// leave a store that not even Verify could repair.
			ds, err := decodeRoot(v)
			if err != nil {
				snap.bad = append(snap.bad, e.K)
				snap.badRoots++
				continue
			}
			snap.roots[string(k)] = ds
		}
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

// dirName is the folder of the store that holds objects of k's kind.
func (k objKey) dirName() string {
	if k.kind == pLayer {
		return "layers"
	}
	return "blobs"
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
