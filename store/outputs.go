package store

import (
	"fmt"
	"time"

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
// that the output was used (in memory, written at Close), and holds it as a
// temp root of this process, so that a GC running meanwhile keeps it.
func (s *Store) Lookup(drv digest.Digest) (Output, bool, error) {
	k, err := key(pOutput, drv)
	if err != nil {
		return Output{}, false, fmt.Errorf("looking up: %w", err)
	}
	if err := s.proc.pin(k); err != nil {
		return Output{}, false, err
	}
	vals, found, err := s.get(k)
	if err != nil {
		return Output{}, false, fmt.Errorf("looking up %s: %w", drv, err)
	}
	if !found[0] {
		return Output{}, false, nil
	}
	rec, err := decodeRecord(vals[0], nil)
	if err != nil {
		return Output{}, false, fmt.Errorf("looking up %s: %w", drv, err)
	}
	s.touch(k, rec.used)
	return rec.out, true, nil
}

// LookupMany returns the outputs recorded for those of drvs that have one,
// reading them all in one index transaction. Like Lookup, it holds them as
// temp roots.
func (s *Store) LookupMany(drvs []digest.Digest) (map[digest.Digest]Output, error) {
	outs := make(map[digest.Digest]Output, len(drvs))
	keys := make([][]byte, len(drvs))
	for i, d := range drvs {
		k, err := key(pOutput, d)
		if err != nil {
			return nil, fmt.Errorf("looking up derivations: %w", err)
		}
		keys[i] = k
	}
	if err := s.proc.pin(keys...); err != nil {
		return nil, err
	}
	vals, found, err := s.get(keys...)
	if err != nil {
		return nil, fmt.Errorf("looking up derivations: %w", err)
	}
	intern := map[[32]byte]digest.Digest{}
	var stale [][]byte
	for i, v := range vals {
		if !found[i] {
			continue
		}
		rec, err := decodeRecord(v, intern)
		if err != nil {
			return nil, fmt.Errorf("looking up derivations: %s: %w", drvs[i], err)
		}
		outs[drvs[i]] = rec.out
		if !s.readOnly && s.now().Sub(rec.used) >= touchInterval {
			stale = append(stale, keys[i])
		}
	}
	s.mu.Lock()
	for _, k := range stale {
		s.pending[string(k)] = struct{}{}
	}
	s.mu.Unlock()
	return outs, nil
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
	var need [][]byte
	for _, o := range objectsOf(record{out: out}) {
		need = append(need, o.indexKey())
	}
	for _, r := range refs {
		rk, _ := key(pOutput, r)
		need = append(need, rk)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	if err := s.proc.pin(append(need, k)...); err != nil {
		return err
	}
	if err := s.write(batch{Need: need, Set: []entry{{k, v}}}); err != nil {
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

// flushTouches rewrites the last-use prefix of the pending entries.
func (s *Store) flushTouches() error {
	if s.readOnly {
		return nil
	}
	s.mu.Lock()
	keys := make([][]byte, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, []byte(k))
	}
	s.pending = map[string]struct{}{}
	s.mu.Unlock()
	now := s.now().UnixNano()
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := s.write(batch{Touch: keys[:n], TouchAt: now}); err != nil {
			return fmt.Errorf("recording last use in store %s: %w", s.root, err)
		}
		keys = keys[n:]
	}
	return nil
}
