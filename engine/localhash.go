package engine

import (
	"strings"
	"sync"

	"github.com/kiln-build/kiln/realize/source"
	"github.com/kiln-build/kiln/store"
)

// localHasher hashes local sources, keeping the stat cache in the store
// when there is one so that unchanged trees are not read again.
func localHasher(st *store.Store) func(dir string, include, exclude []string) (string, error) {
	var cache source.StatCache = &source.MemStatCache{}
	if st != nil {
		cache = storeStatCache{st}
	}
	// The compiler asks once per reference: a source that twenty stages
	// start from is hashed once, not twenty times.
	type result struct {
		h   string
		err error
	}
	var mu sync.Mutex
	memo := map[string]result{}
	return func(dir string, include, exclude []string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		k := dir + "\x00" + strings.Join(include, "\x01") + "\x00" + strings.Join(exclude, "\x01")
		if r, ok := memo[k]; ok {
			return r.h, r.err
		}
		h, err := source.LocalHash(dir, include, exclude, cache)
		memo[k] = result{h, err}
		return h, err
	}
}

// storeStatCache keeps local sources' stat cache in the store, so unchanged
// trees are re-hashed from stats alone.
type storeStatCache struct{ s *store.Store }

var _ source.StatCache = storeStatCache{}

func (c storeStatCache) Get(key string) ([]byte, bool, error) { return c.s.GetMeta("statcache", key) }
func (c storeStatCache) Put(key string, v []byte) error       { return c.s.PutMeta("statcache", key, v) }
