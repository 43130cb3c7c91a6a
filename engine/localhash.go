package engine

import (
	"errors"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kiln-build/kiln/internal/infolder"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/realize/source"
	"github.com/kiln-build/kiln/store"
)

// localHasher hashes local sources, keeping the stat cache in the store
// when there is one so that unchanged trees are not read again.
func localHasher(st *store.Store) func(dir string, include, exclude []string) (string, error) {
	return newLocalHashes(st).hash
}

// localHashes hashes each local source once: the compiler asks once per
// reference, and a source that twenty stages start from is hashed once,
// not twenty times. prefetch hashes them ahead of the compiler.
type localHashes struct {
	cache source.StatCache
	mu    sync.Mutex
	memo  map[string]*localHash
	stop  atomic.Bool
	// gate keeps prefetching off the stat cache (the store) once done
	// has set stopped: a hash under way then fails at its next file
	// rather than keep the compile waiting or read on through a tree no
	// one asked for while the build runs.
	gate    sync.RWMutex
	stopped bool
}

// localHash is one source's hash, ready once done is closed.
type localHash struct {
	done chan struct{}
	h    string
	err  error
}

func newLocalHashes(st *store.Store) *localHashes {
	var cache source.StatCache = &source.MemStatCache{}
	if st != nil {
		cache = storeStatCache{st}
	}
	return &localHashes{cache: cache, memo: map[string]*localHash{}}
}

// hash is the compiler's Options.LocalHash.
func (l *localHashes) hash(dir string, include, exclude []string) (string, error) {
	r, mine := l.claim(dir, include, exclude)
	if mine {
		r.h, r.err = source.LocalHash(dir, include, exclude, l.cache)
		close(r.done)
	}
	<-r.done
	return r.h, r.err
}

// claim returns the entry of a source, and whether the caller is the
// first to ask and so must hash it.
func (l *localHashes) claim(dir string, include, exclude []string) (*localHash, bool) {
	k := dir + "\x00" + strings.Join(include, "\x01") + "\x00" + strings.Join(exclude, "\x01")
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.memo[k]; ok {
		return r, false
	}
	r := &localHash{done: make(chan struct{})}
	l.memo[k] = r
	return r, true
}

// prefetch starts hashing cfg's local sources, in file order, on the
// cores the compiler leaves idle: it runs on one and would otherwise wait
// for each source's hash in turn (a build file of 10,000 stages over 333
// local sources spent a tenth of its compile time there). The compiler
// hashes a source itself when it gets there first. Each source is hashed
// with the folder the compiler names it by (compiler/source_local.go);
// one that would differ is only hashed twice. done stops the prefetch.
func (l *localHashes) prefetch(cfg *lang.Config) {
	type job struct {
		dir              string
		include, exclude []string
	}
	var jobs []job
	for _, src := range cfg.Sources {
		if src.Type != "local" {
			continue
		}
		rel := "."
		if src.Path != "" {
			rel = path.Clean(filepath.ToSlash(src.Path))
		}
		dir, err := infolder.Join(cfg.Dir, filepath.FromSlash(rel))
		if err != nil {
			continue // the compiler reports it
		}
		jobs = append(jobs, job{dir, src.Include, src.Exclude})
	}
	var next atomic.Int64
	for range min(max(runtime.GOMAXPROCS(0)-1, 1), len(jobs)) {
		go func() {
			for i := int(next.Add(1)) - 1; i < len(jobs) && !l.stop.Load(); i = int(next.Add(1)) - 1 {
				j := jobs[i]
				if r, mine := l.claim(j.dir, j.include, j.exclude); mine {
					r.h, r.err = source.LocalHash(j.dir, j.include, j.exclude, prefetchCache{l})
					close(r.done)
				}
			}
		}()
	}
}

// done stops prefetching: no source is started after it, and none uses
// the stat cache, so the store may be closed. It does not wait for the
// hashes under way: a large source the compiler did not need (path = "."
// for other targets) would hold it up. They stop at their next file; no
// one reads their results, as the compile has ended.
func (l *localHashes) done() {
	l.stop.Store(true)
	l.gate.Lock()
	l.stopped = true
	l.gate.Unlock()
}

// errPrefetchStopped ends a prefetched hash still under way when the
// compile ends; no one sees it.
var errPrefetchStopped = errors.New("the compile ended: prefetching local sources stopped")

// prefetchCache is the stat cache as prefetching uses it: after done,
// every use fails, so that a hash under way ends.
type prefetchCache struct{ l *localHashes }

func (c prefetchCache) Get(key string) ([]byte, bool, error) {
	c.l.gate.RLock()
	defer c.l.gate.RUnlock()
	if c.l.stopped {
		return nil, false, errPrefetchStopped
	}
	return c.l.cache.Get(key)
}

func (c prefetchCache) Put(key string, val []byte) error {
	c.l.gate.RLock()
	defer c.l.gate.RUnlock()
	if c.l.stopped {
		return errPrefetchStopped
	}
	return c.l.cache.Put(key, val)
}

// storeStatCache keeps local sources' stat cache in the store, so unchanged
// trees are re-hashed from stats alone.
type storeStatCache struct{ s *store.Store }

var _ source.StatCache = storeStatCache{}

func (c storeStatCache) Get(key string) ([]byte, bool, error) { return c.s.GetMeta("statcache", key) }
func (c storeStatCache) Put(key string, v []byte) error       { return c.s.PutMeta("statcache", key, v) }
