package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// kv is the index as the rest of the package sees it: a handful of
// operations, each one transaction. The process that owns the index runs
// them on badger (localKV); every other process sends them to the owner
// (remoteKV). Keeping the set small and free of callbacks is what lets it
// cross a socket.
type kv interface {
	// get returns the values of keys (nil where found is false).
	get(keys [][]byte) (vals [][]byte, found []bool, err error)
	// scan returns every entry under each of prefixes, read in one
	// transaction so that GC and Verify see one state of the index.
	scan(prefixes []byte) ([]entry, error)
	// write applies b atomically; see batch.
	write(b batch) error
	// collect deletes those of keys that no live process holds as a temp
	// root (except the process named by except) and returns the keys it
	// deleted. It is GC's one index step; see collect in gc.go.
	collect(keys [][]byte, except string) ([][]byte, error)
	// close releases the index (the owner hands it over).
	close() error
}

var (
	_ kv = (*localKV)(nil)
	_ kv = (*remoteKV)(nil)
)

type entry struct{ K, V []byte }

// batch is one write transaction. Need names keys that must exist (a
// record's objects), checked in the transaction so that a concurrent GC
// cannot remove them between check and write; Touch names entries whose
// last-use prefix becomes TouchAt, re-read in the transaction so that an
// entry replaced or deleted meanwhile is neither reverted nor resurrected.
type batch struct {
	Need    [][]byte
	Set     []entry
	Del     [][]byte
	Touch   [][]byte
	TouchAt int64
	// Sync makes the write durable before it returns (GC's deletions).
	Sync bool
}

// errMissing is the error of a batch whose Need keys are not all present.
type errMissing struct{ key []byte }

func (e errMissing) Error() string { return missingText(e.key) }

func missingText(k []byte) string {
	what := map[byte]string{pLayer: "layer", pBlob: "blob", pOutput: "referenced derivation"}[k[0]]
	if what == "" || len(k) != 33 {
		return fmt.Sprintf("index entry %x is not in the store", k)
	}
	return fmt.Sprintf("%s %s is not in the store", what, fromRaw(k[1:]))
}

// localKV is the index opened on badger by the owning process. It is
// opened read-only first and reopened for writing at the first write: a
// read-only badger open maps no fresh memtable or value log, which makes a
// no-op build's Open several times cheaper. mu is held shared for each
// transaction and exclusively to swap db and by collect, which must see
// no look-up half done (see collect).
type localKV struct {
	root string
	dir  string
	mu   sync.RWMutex
	db   *badger.DB
	rw   bool
	// locked: this process holds index.lock, which already keeps every
	// other process of this design off badger, so a read-only open skips
	// badger's own directory lock (see leave).
	locked bool
	// leave: the process ends soon after close (WithShortLived), so
	// close leaves a read-only badger to the kernel (see close).
	leave bool
	// liveRoots reads the temp roots of live processes for collect.
	liveRoots func(except string) (map[string]bool, error)
}

// openLocal opens the badger index of root, read-only when it can.
func openLocal(root string, readOnly, locked, leave bool) (*localKV, error) {
	dir := filepath.Join(root, "index")
	l := &localKV{root: root, dir: dir, locked: locked, leave: leave}
	// A store whose index was never written has no manifest, which a
	// read-only badger open refuses.
	_, err := os.Stat(filepath.Join(dir, "MANIFEST"))
	rw := !readOnly && err != nil
	db, err := badger.Open(l.options(!rw))
	if err != nil && !rw && !readOnly {
		// A read-only open refuses a log that a crash left to truncate;
		// a writing open replays and truncates it. A value log file that a
		// crash left empty takes badger two opens to recover: the first
		// fails after repairing what the second needs.
		rw = true
		for try := 0; try < 3; try++ {
			if db, err = badger.Open(l.options(false)); err == nil {
				break
			}
		}
	}
	if err != nil {
		if isPermission(err) && !readOnly {
			return nil, unwritable(root, err)
		}
		return nil, fmt.Errorf("opening the index of store %s: %w", root, err)
	}
	l.db, l.rw = db, rw
	return l, nil
}

// options are badgerOptions, without badger's directory lock for a
// read-only open under index.lock. That lock (shared for reading,
// exclusive for writing) only repeats index.lock for kiln's processes,
// and a read-only badger left open to the process's exit (see close)
// must not hold it: the next owner's writing open would fail on it.
func (l *localKV) options(readOnly bool) badger.Options {
	return badgerOptions(l.dir, readOnly).WithBypassLockGuard(readOnly && l.locked)
}

func (l *localKV) view(fn func(*badger.Txn) error) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.db.View(fn)
}

// withWriteDB calls fn with the index open for writing, reopening it so if
// it is still read-only.
func (l *localKV) withWriteDB(fn func(*badger.DB) error) error {
	for {
		l.mu.RLock()
		if l.rw {
			defer l.mu.RUnlock()
			return fn(l.db)
		}
		l.mu.RUnlock()
		if err := l.upgrade(); err != nil {
			return err
		}
	}
}

func (l *localKV) upgrade() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.upgradeLocked()
}

func (l *localKV) upgradeLocked() error {
	if l.rw {
		return nil
	}
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("reopening the index of store %s for writing: %w", l.root, err)
	}
	db, err := badger.Open(l.options(false))
	if err != nil {
		// Leave a usable read-only index behind, so that reads go on and
		// close works.
		if ro, rerr := badger.Open(l.options(true)); rerr == nil {
			l.db = ro
		}
		if isPermission(err) {
			return unwritable(l.root, err)
		}
		return fmt.Errorf("reopening the index of store %s for writing: %w", l.root, err)
	}
	l.db, l.rw = db, true
	return nil
}

func (l *localKV) get(keys [][]byte) ([][]byte, []bool, error) {
	vals := make([][]byte, len(keys))
	found := make([]bool, len(keys))
	err := l.view(func(txn *badger.Txn) error { return getInto(txn, keys, vals, found) })
	return vals, found, err
}

// getInto reads keys. Many keys under one prefix are read by seeking one
// iterator through them in order, which reuses its position in every table
// and is cheaper than a Get (a fresh seek) per key.
func getInto(txn *badger.Txn, keys [][]byte, vals [][]byte, found []bool) error {
	if len(keys) < 8 || !samePrefix(keys) {
		for i, k := range keys {
			item, err := txn.Get(k)
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if vals[i], err = item.ValueCopy(nil); err != nil {
				return err
			}
			found[i] = true
		}
		return nil
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = keys[0][:1]
	it := txn.NewIterator(opts)
	defer it.Close()
	// Values are copied into one arena rather than one allocation each:
	// a no-op build reads a thousand of them.
	arena := make([]byte, 0, 256*len(keys))
	for n, i := range order {
		seekNear(it, keys[i], n > 0)
		if !it.Valid() || !bytes.Equal(it.Item().Key(), keys[i]) {
			continue
		}
		err := it.Item().Value(func(v []byte) error {
			start := len(arena)
			arena = append(arena, v...)
			vals[i] = arena[start:len(arena):len(arena)]
			return nil
		})
		if err != nil {
			return err
		}
		found[i] = true
	}
	return nil
}

// nearSteps is how many entries seekNear steps over before it seeks.
const nearSteps = 4

// seekNear moves it, positioned by an earlier seekNear at a key below k
// (or not yet positioned), to the first key >= k. The derivations of one
// build are mostly neighbours in the index (or the whole of it), so that
// key is usually a step or two ahead, and a step (Next) costs a fraction
// of a Seek, which positions a fresh merge over every table. Since the
// iterator stands at the first key >= the previous one asked for, an
// iterator already at or past k is where a Seek would put it.
func seekNear(it *badger.Iterator, k []byte, positioned bool) {
	if positioned {
		for range nearSteps {
			if !it.Valid() || bytes.Compare(it.Item().Key(), k) >= 0 {
				return
			}
			it.Next()
		}
		if !it.Valid() || bytes.Compare(it.Item().Key(), k) >= 0 {
			return
		}
	}
	it.Seek(k)
}

func samePrefix(keys [][]byte) bool {
	for _, k := range keys {
		if len(k) == 0 || k[0] != keys[0][0] {
			return false
		}
	}
	return true
}

func (l *localKV) scan(prefixes []byte) ([]entry, error) {
	var out []entry
	err := l.view(func(txn *badger.Txn) error {
		for _, p := range prefixes {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = []byte{p}
			it := txn.NewIterator(opts)
			for it.Rewind(); it.Valid(); it.Next() {
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					it.Close()
					return err
				}
				out = append(out, entry{it.Item().KeyCopy(nil), v})
			}
			it.Close()
		}
		return nil
	})
	return out, err
}

func (l *localKV) write(b batch) error {
	return l.withWriteDB(func(db *badger.DB) error {
		err := db.Update(func(txn *badger.Txn) error { return applyBatch(txn, b) })
		if err == nil && b.Sync {
			err = db.Sync()
		}
		return err
	})
}

func applyBatch(txn *badger.Txn, b batch) error {
	for _, k := range b.Need {
		if _, err := txn.Get(k); errors.Is(err, badger.ErrKeyNotFound) {
			return errMissing{k}
		} else if err != nil {
			return err
		}
	}
	for _, k := range b.Touch {
		item, err := txn.Get(k)
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
		if len(v) >= 8 {
			putUse(v, b.TouchAt)
		}
		if err := txn.Set(k, v); err != nil {
			return err
		}
	}
	for _, e := range b.Set {
		if err := txn.Set(e.K, e.V); err != nil {
			return err
		}
	}
	for _, k := range b.Del {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// collect runs with mu held exclusively: a look-up registers its temp
// roots before it reads the index (see Store.pin), so every look-up that
// found one of keys before this point has its roots on disk by now, and
// every later one finds the key gone.
func (l *localKV) collect(keys [][]byte, except string) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.upgradeLocked(); err != nil {
		return nil, err
	}
	held, err := l.liveRoots(except)
	if err != nil {
		return nil, err
	}
	var gone [][]byte
	err = l.db.Update(func(txn *badger.Txn) error {
		// The plan was made from an older snapshot: a root added since
		// (a build that recorded its targets and exited, its temp roots
		// gone with it) keeps what it names all the same.
		if err := addRooted(txn, held); err != nil {
			return err
		}
		kept, err := closureOf(txn, held)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if kept[string(k)] {
				continue
			}
			if err := txn.Delete(k); err != nil {
				return err
			}
			gone = append(gone, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return gone, l.db.Sync()
}

// addRooted adds to held the output records that the GC roots in txn
// name. An unreadable root stops the collection: what it keeps is
// unknown.
func addRooted(txn *badger.Txn, held map[string]bool) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte{pRoot}
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		ds, err := decodeRoot(v)
		if err != nil {
			return fmt.Errorf("GC root %q is unreadable: %w", it.Item().Key()[1:], err)
		}
		for _, d := range ds {
			k, err := key(pOutput, d)
			if err != nil {
				return err
			}
			held[string(k)] = true
		}
	}
	return nil
}

// closureOf returns the index keys that the temp roots held keep: each
// held key, and for a held output record, the objects it names and the
// records it references, transitively.
func closureOf(txn *badger.Txn, held map[string]bool) (map[string]bool, error) {
	kept := map[string]bool{}
	var stack []string
	for k := range held {
		stack = append(stack, k)
	}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if kept[k] {
			continue
		}
		kept[k] = true
		if k[0] != pOutput {
			continue
		}
		item, err := txn.Get([]byte(k))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var rec record
		if err := item.Value(func(v []byte) error {
			rec, err = decodeRecord(v, nil)
			return err
		}); err != nil {
			continue // an unreadable record keeps nothing; Verify reports it
		}
		for _, o := range objectsOf(rec) {
			stack = append(stack, string(o.indexKey()))
		}
		for _, r := range rec.refs {
			rk, _ := key(pOutput, r)
			stack = append(stack, string(rk))
		}
	}
	return kept, nil
}

// close syncs what was written (index writes are not synced one by one,
// see badgerOptions) and closes badger.
//
// A read-only badger of a process that is about to exit is not closed:
// badger's close msyncs every table and value log it mapped and fsyncs
// the index directory twice, though nothing was written, and stops its
// goroutines; the exit unmaps and closes the same without a sync. Its
// mappings are read-only and it holds no lock (see options), so the next
// owner, even in the moment before this process is gone, finds nothing
// held.
func (l *localKV) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.rw && l.leave && l.locked {
		return nil
	}
	var err error
	if l.rw {
		err = l.db.Sync()
	}
	if cerr := l.db.Close(); err == nil {
		err = cerr
	}
	return err
}
