package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/opencontainers/go-digest"
)

// Output is the realized output of a derivation.
type Output struct {
	// Layers is the filesystem state, bottom layer first.
	Layers []digest.Digest
	// Blobs are the blobs the output needs besides its layers: an image
	// source's config and its original compressed layers. Record requires
	// them to exist and GC keeps them as long as the output.
	Blobs []digest.Digest
	// Meta holds small facts about the output, such as the image config
	// digest of a pulled base image.
	Meta map[string]string
	// Built is when the output was realized.
	Built time.Time
	// DurationMS is how long realizing it took, in milliseconds.
	DurationMS int64
}

// Lookup returns the output recorded for the derivation drv. It also records
// that the output was used (in memory, written at Close).
func (s *Store) Lookup(drv digest.Digest) (Output, bool, error) {
	k, err := key(pOutput, drv)
	if err != nil {
		return Output{}, false, fmt.Errorf("looking up: %w", err)
	}
	var rec record
	found := false
	err = s.view(func(txn *badger.Txn) error {
		var err error
		rec, found, err = getRecord(txn, k, nil)
		return err
	})
	if err != nil {
		return Output{}, false, fmt.Errorf("looking up %s: %w", drv, err)
	}
	if found {
		s.touch(k, rec.used)
	}
	return rec.out, found, nil
}

// LookupMany returns the outputs recorded for those of drvs that have one,
// reading them all in one index transaction.
func (s *Store) LookupMany(drvs []digest.Digest) (map[digest.Digest]Output, error) {
	outs := make(map[digest.Digest]Output, len(drvs))
	var stale [][]byte
	intern := map[[32]byte]digest.Digest{}
	// Seeking one iterator through the keys in order reuses its position in
	// every table, which is cheaper than a Get (a fresh seek) per key.
	keys := make([][]byte, len(drvs))
	for i, d := range drvs {
		k, err := key(pOutput, d)
		if err != nil {
			return nil, fmt.Errorf("looking up derivations: %w", err)
		}
		keys[i] = k
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{pOutput}
		it := txn.NewIterator(opts)
		defer it.Close()
		for _, i := range order {
			k := keys[i]
			it.Seek(k)
			if !it.Valid() || !bytes.Equal(it.Item().Key(), k) {
				continue
			}
			var rec record
			err := it.Item().Value(func(v []byte) error {
				var err error
				rec, err = decodeRecord(v, intern)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", drvs[i], err)
			}
			outs[drvs[i]] = rec.out
			if !s.readOnly && s.now().Sub(rec.used) >= touchInterval {
				stale = append(stale, k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking up derivations: %w", err)
	}
	s.mu.Lock()
	for _, k := range stale {
		s.pending[string(k)] = struct{}{}
	}
	s.mu.Unlock()
	return outs, nil
}

func getRecord(txn *badger.Txn, k []byte, intern map[[32]byte]digest.Digest) (record, bool, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	var rec record
	err = item.Value(func(v []byte) error {
		var err error
		rec, err = decodeRecord(v, intern)
		return err
	})
	return rec, err == nil, err
}

// Record stores out as the realized output of drv, replacing any earlier
// one. Every layer and blob out names must already be in the store. refs are
// derivations whose outputs this one needs kept alive with it: GC follows
// them from roots, and they must be recorded already.
func (s *Store) Record(drv digest.Digest, out Output, refs ...digest.Digest) error {
	if err := s.writable(); err != nil {
		return err
	}
	k, err := key(pOutput, drv)
	if err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	v, err := encodeRecord(record{used: s.now(), out: out, refs: refs})
	if err != nil {
		return fmt.Errorf("recording %s: %w", drv, err)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	err = s.update(func(txn *badger.Txn) error {
		need := func(prefix byte, what string, ds ...digest.Digest) error {
			for _, d := range ds {
				k, _ := key(prefix, d)
				if _, err := txn.Get(k); errors.Is(err, badger.ErrKeyNotFound) {
					return fmt.Errorf("%s %s is not in the store", what, d)
				} else if err != nil {
					return err
				}
			}
			return nil
		}
		if err := need(pLayer, "layer", out.Layers...); err != nil {
			return err
		}
		if err := need(pBlob, "blob", out.Blobs...); err != nil {
			return err
		}
		if err := need(pOutput, "referenced derivation", refs...); err != nil {
			return err
		}
		return txn.Set(k, v)
	})
	if err != nil {
		return fmt.Errorf("recording %s: %w", drv, err)
	}
	s.mu.Lock()
	delete(s.pending, string(k))
	s.mu.Unlock()
	return nil
}

// touch notes that the entry k was used, unless its recorded use is recent.
func (s *Store) touch(k []byte, used time.Time) {
	if s.readOnly || s.now().Sub(used) < touchInterval {
		return
	}
	s.mu.Lock()
	s.pending[string(k)] = struct{}{}
	s.mu.Unlock()
}

// touchNow rewrites the last use of k at once; used on the add paths, which
// write to the index anyway.
func (s *Store) touchNow(k []byte) {
	s.mu.Lock()
	s.pending[string(k)] = struct{}{}
	s.mu.Unlock()
	_ = s.flushTouches()
}

// flushTouches rewrites the last-use prefix of the pending entries. Each
// entry is re-read in the writing transaction so that a record replaced or
// deleted meanwhile is neither reverted nor resurrected.
func (s *Store) flushTouches() error {
	if s.readOnly {
		return nil
	}
	s.mu.Lock()
	keys := make([]string, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, k)
	}
	s.pending = map[string]struct{}{}
	s.mu.Unlock()
	now := s.now()
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		batch := keys[:n]
		keys = keys[n:]
		err := s.update(func(txn *badger.Txn) error {
			for _, k := range batch {
				item, err := txn.Get([]byte(k))
				if errors.Is(err, badger.ErrKeyNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				if err := txn.Set([]byte(k), withUse(v, now)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("recording last use in store %s: %w", s.root, err)
		}
	}
	return nil
}
