package store

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
)

func metaKey(ns, key string) ([]byte, error) {
	if ns == "" || strings.IndexByte(ns, 0) >= 0 {
		return nil, fmt.Errorf("metadata namespace %q: must be non-empty and without NUL bytes", ns)
	}
	return []byte(string(pMeta) + ns + "\x00" + key), nil
}

// GetMeta returns the value stored under (ns, key) by PutMeta. Values are
// hints (a cached hash, a cached compressed-blob digest): objects they name
// may have been collected since, so callers check with HasBlob/HasLayer.
func (s *Store) GetMeta(ns, key string) ([]byte, bool, error) {
	k, err := metaKey(ns, key)
	if err != nil {
		return nil, false, err
	}
	vals, found, err := s.get(k)
	if err != nil {
		return nil, false, fmt.Errorf("reading metadata %s/%s: %w", ns, key, err)
	}
	return vals[0], found[0], nil
}

// PutMeta stores val under (ns, key), replacing any earlier value.
func (s *Store) PutMeta(ns, key string, val []byte) error {
	if err := s.writable(); err != nil {
		return err
	}
	k, err := metaKey(ns, key)
	if err != nil {
		return err
	}
	if err := s.write(batch{Set: []entry{{k, bytes.Clone(val)}}}); err != nil {
		return fmt.Errorf("writing metadata %s/%s: %w", ns, key, err)
	}
	return nil
}

func rootKey(name string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("a GC root needs a name")
	}
	return []byte(string(pRoot) + name), nil
}

// AddRoot makes name a GC root keeping drvs (and what they reference) alive,
// replacing the set name kept before. Derivations not recorded (yet) are
// allowed and simply keep nothing.
func (s *Store) AddRoot(name string, drvs ...digest.Digest) error {
	if err := s.writable(); err != nil {
		return err
	}
	k, err := rootKey(name)
	if err != nil {
		return err
	}
	var v []byte
	for _, d := range drvs {
		r, err := raw(d)
		if err != nil {
			return fmt.Errorf("adding root %s: %w", name, err)
		}
		v = append(v, r[:]...)
	}
	if err := s.write(batch{Set: []entry{{k, v}}}); err != nil {
		return fmt.Errorf("adding root %s: %w", name, err)
	}
	return nil
}

// RemoveRoot removes the GC root name; removing a missing root is no error.
func (s *Store) RemoveRoot(name string) error {
	if err := s.writable(); err != nil {
		return err
	}
	k, err := rootKey(name)
	if err != nil {
		return err
	}
	if err := s.write(batch{Del: [][]byte{k}}); err != nil {
		return fmt.Errorf("removing root %s: %w", name, err)
	}
	return nil
}

// Roots returns every GC root with the derivations it keeps.
func (s *Store) Roots() (map[string][]digest.Digest, error) {
	roots := map[string][]digest.Digest{}
	ents, err := s.scan(pRoot)
	if err != nil {
		return nil, fmt.Errorf("reading GC roots: %w", err)
	}
	for _, e := range ents {
		ds, err := decodeRoot(e.V)
		if err != nil {
			return nil, fmt.Errorf("reading GC roots: root %s: %w; run kiln store verify --repair to drop it", e.K[1:], err)
		}
		roots[string(e.K[1:])] = ds
	}
	return roots, nil
}

func decodeRoot(v []byte) ([]digest.Digest, error) {
	if len(v)%32 != 0 {
		return nil, errCorrupt
	}
	ds := make([]digest.Digest, 0, len(v)/32)
	for i := 0; i < len(v); i += 32 {
		ds = append(ds, fromRaw(v[i:i+32]))
	}
	return ds, nil
}

func sortedNames(m map[string][]digest.Digest) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
