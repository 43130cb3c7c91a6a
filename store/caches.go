package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Cache mounts (mount "cache") live in <root>/cache/<hex>, named by the
// first 16 bytes of the sha256 of their id. They are not content-addressed
// objects: a step changes them in place, which is all they are for. They
// count toward the store's budget and are removed least recently used
// first, as BuildKit prunes its exec.cachemount records. Their last use is
// the directory's modification time, set when a step takes and releases
// one; a cache in use by a live process is held as one of its temp roots
// (cacheRoot), so that no collection removes it under a step.

// CacheDir is where the cache mount named id lives.
func (s *Store) CacheDir(id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(s.root, "cache", hex.EncodeToString(sum[:16]))
}

// cacheUseLock is the key lock that orders UseCache against a collection
// removing the cache. It is not LockCache's, which a step may hold for its
// whole run: a step of another sharing mode must not wait for that.
func cacheUseLock(sum16 []byte) []byte { return append([]byte{'C'}, sum16...) }

// cacheRoot is the temp root that holds a cache in use: 33 bytes like an
// index key, which no index key matches.
func cacheRoot(sum16 []byte) []byte {
	k := make([]byte, 33)
	k[0] = 'C'
	copy(k[1:], sum16)
	return k
}

// UseCache makes the cache mount named id ready for a step: it holds it
// as a temp root of this process, so that GC leaves it alone, creates its
// directory and records its use. release records the use again (a step's
// end) and lets GC have it; it must be called once. UseCache only
// announces the use: a step that needs the cache alone takes LockCache
// after it.
func (s *Store) UseCache(ctx context.Context, id string) (dir string, release func(), err error) {
	if err := s.writable(); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(id))
	dir = s.CacheDir(id)
	// The key lock, held for a moment, orders this against a collection
	// deciding about the cache: either it sees the temp root, or it has
	// moved the cache away before the directory is made again.
	l, err := s.lockKey(ctx, cacheUseLock(sum[:16]), true)
	if err != nil {
		return "", nil, err
	}
	defer l.unlock()
	if err := s.proc.pin(cacheRoot(sum[:16])); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("creating cache %s: %w", dir, err)
	}
	now := s.now()
	_ = os.Chtimes(dir, now, now)
	name := filepath.Base(dir)
	s.mu.Lock()
	if s.cachesInUse == nil {
		s.cachesInUse = map[string]int{}
	}
	s.cachesInUse[name]++
	s.mu.Unlock()
	return dir, func() {
		now := s.now()
		_ = os.Chtimes(dir, now, now)
		s.mu.Lock()
		s.cachesInUse[name]--
		if s.cachesInUse[name] <= 0 {
			delete(s.cachesInUse, name)
		}
		s.mu.Unlock()
	}, nil
}

// cacheInfo is one cache mount as GC sees it.
type cacheInfo struct {
	name string // <hex> under cache/
	used time.Time
	size int64
}

// caches lists the cache mounts with their last use and size; sizes
// come from known (measured earlier) when the cache has not been used
// since, else from walking it.
func (s *Store) caches(known map[string]cacheState) ([]cacheInfo, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, "cache"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing cache mounts: %w", err)
	}
	var out []cacheInfo
	for _, e := range ents {
		if !e.IsDir() || len(e.Name()) != 32 || !isHex(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		c := cacheInfo{name: e.Name(), used: info.ModTime()}
		if k, ok := known[c.name]; ok && k.Used == c.used.UnixNano() {
			c.size = k.Bytes
		} else {
			u, _ := dirUsage(filepath.Join(s.root, "cache", c.name), true)
			c.size = u.Bytes
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b cacheInfo) int {
		return cmp.Or(a.used.Compare(b.used), cmp.Compare(a.name, b.name))
	})
	return out, nil
}

// removeCache removes the cache mount name unless a live process (this
// one included) holds it: a step using it, in whatever sharing mode, has
// called UseCache first. It reports whether it removed it.
func (s *Store) removeCache(name string) (bool, error) {
	sum16, err := hex.DecodeString(name)
	if err != nil {
		return false, nil
	}
	s.mu.Lock()
	busy := s.cachesInUse[name] > 0
	s.mu.Unlock()
	if busy {
		return false, nil
	}
	l, err := s.lockKey(context.Background(), cacheUseLock(sum16), false)
	if err != nil || l == nil {
		return false, err
	}
	// This process's own holds are cachesInUse: its temp roots also name
	// caches its finished steps have let go of.
	held, err := liveRoots(s.root, s.token())
	if err != nil || held[string(cacheRoot(sum16))] {
		l.unlock()
		return false, err
	}
	// One rename takes the cache out of use; the tree goes after the lock
	// is released, so that a step waiting for the cache gets a fresh one
	// at once. A crash in between leaves it in tmp, cleaned at next Open.
	tmp, err := os.MkdirTemp(s.tmpPath(), "gc-"+s.token()+"-")
	if err != nil {
		l.unlock()
		return false, err
	}
	err = os.Rename(filepath.Join(s.root, "cache", name), filepath.Join(tmp, "x"))
	l.unlock()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.Remove(tmp)
		return false, fmt.Errorf("removing cache %s: %w", name, err)
	}
	return err == nil, removeTree(tmp)
}
