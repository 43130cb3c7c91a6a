package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// SchemaVersion is the index layout this package reads and writes. Bump it
// (and teach Open to migrate) whenever a key or value encoding changes.
const SchemaVersion = 1

// touchInterval bounds how often last-use times are rewritten: GC policies
// think in hours or days, and a no-op build that writes nothing never has to
// reopen the index for writing, so last use is recorded to within an hour.
const touchInterval = time.Hour

var schemaKey = []byte("!schema")

// ErrNewerSchema is returned (wrapped) by Open when the store was written by
// a newer kiln whose index this one cannot read.
var ErrNewerSchema = errors.New("store schema is newer than this kiln")

// ErrNotWritable is returned (wrapped) by Open when the store root cannot be
// created or written.
var ErrNotWritable = errors.New("store root is not writable")

// ErrNoStore is returned (wrapped) by a read-only Open of a root that holds
// no store yet.
var ErrNoStore = errors.New("no store")

// Store is an open content-addressed store. Its methods are safe for
// concurrent use by several goroutines of the process that opened it.
type Store struct {
	root     string
	lock     *os.File
	readOnly bool
	now      func() time.Time

	// The index is opened read-only first and reopened for writing at the
	// first write: a read-only badger open maps no fresh memtable or value
	// log, which makes a no-op build's Open several times cheaper. dbMu is
	// held shared for each transaction and exclusively to swap db.
	dbMu sync.RWMutex
	db   *badger.DB
	dbRW bool

	// gcMu is held shared by adds and exclusively by GC and Verify, so that
	// those can treat an unindexed object or temp entry as garbage rather
	// than as an add in progress.
	gcMu sync.RWMutex

	mu      sync.Mutex
	pending map[string]struct{} // index keys whose last use is to be rewritten
	temps   map[string]struct{} // temp paths handed out by this Store
	closed  bool

	// unmounted are the mounts a killed kiln left under tmp, which Open
	// unmounted; Verify reports them.
	unmounted []string
}

type config struct {
	notice   func(int)
	readOnly bool
	now      func() time.Time
}

// Option configures Open.
type Option func(*config)

// WithWaitNotice makes Open call notice once, with the holder's pid (0 when
// unknown, e.g. a read-only user), before it blocks waiting for another
// process to release the store.
func WithWaitNotice(notice func(holderPID int)) Option {
	return func(c *config) { c.notice = notice }
}

// WithReadOnly opens the store for reading only. Several read-only users can
// share a store, but they wait for a writer (a running build) to finish and
// a writer waits for them, since badger cannot read a database that another
// process writes. Methods that would write return an error; last-use times
// are not recorded.
func WithReadOnly() Option {
	return func(c *config) { c.readOnly = true }
}

// withClock replaces time.Now, for tests of time-based GC policies.
func withClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// openRoots guards against a second Open of one root within a process: flock
// locks belong to open files, so that Open would block on itself forever.
var openRoots sync.Map

// DefaultRoot returns the store root used when none is given: $KILN_STORE,
// else /var/lib/kiln for root, else $XDG_DATA_HOME/kiln (by default
// ~/.local/share/kiln).
func DefaultRoot() string {
	if r := os.Getenv("KILN_STORE"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/kiln"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "kiln")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".local", "share", "kiln")
}

// Open opens the store at root, creating its layout if it does not exist. It
// takes the process lock (waiting while another process holds it), removes
// temporary files left by crashed processes, opens the index and checks its
// schema version, refusing a store written by a newer kiln.
func Open(root string, opts ...Option) (*Store, error) {
	c := config{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", root, err)
	}
	root = filepath.Clean(abs)
	if _, loaded := openRoots.LoadOrStore(root, true); loaded {
		return nil, fmt.Errorf("opening store %s: it is already open in this process", root)
	}
	s, err := open(root, c)
	if err != nil {
		openRoots.Delete(root)
		return nil, err
	}
	return s, nil
}

func open(root string, c config) (*Store, error) {
	s := &Store{
		root:     root,
		readOnly: c.readOnly,
		now:      c.now,
		pending:  map[string]struct{}{},
		temps:    map[string]struct{}{},
	}
	if c.readOnly {
		if _, err := os.Stat(filepath.Join(root, "index")); err != nil {
			return nil, fmt.Errorf("opening store %s read-only: %w (%v)", root, ErrNoStore, err)
		}
	} else {
		for _, d := range []string{"", "index", "layers", "blobs", "logs", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				return nil, unwritable(root, err)
			}
		}
	}
	lock, err := acquireLock(filepath.Join(root, "lock"), c.readOnly, c.notice)
	if err != nil {
		if c.readOnly {
			return nil, fmt.Errorf("locking store %s: %w", root, err)
		}
		return nil, unwritable(root, err)
	}
	s.lock = lock
	if !c.readOnly {
		if err := s.cleanTemp(); err != nil {
			s.unlock()
			return nil, unwritable(root, err)
		}
	}
	// A store whose index was never written has no manifest, which a
	// read-only badger open refuses.
	_, err = os.Stat(filepath.Join(root, "index", "MANIFEST"))
	rw := !c.readOnly && err != nil
	db, err := badger.Open(badgerOptions(filepath.Join(root, "index"), !rw))
	if err != nil && !rw && !c.readOnly {
		// A read-only open refuses a log that a crash left to truncate;
		// a writing open replays and truncates it. A value log file that a
		// crash left empty takes badger two opens to recover: the first
		// fails after repairing what the second needs.
		rw = true
		for try := 0; try < 3; try++ {
			if db, err = badger.Open(badgerOptions(filepath.Join(root, "index"), false)); err == nil {
				break
			}
		}
	}
	if err != nil {
		s.unlock()
		if isPermission(err) && !c.readOnly {
			return nil, unwritable(root, err)
		}
		return nil, fmt.Errorf("opening the index of store %s: %w", root, err)
	}
	s.db, s.dbRW = db, rw
	if err := s.checkSchema(); err != nil {
		_ = s.db.Close()
		s.unlock()
		return nil, err
	}
	return s, nil
}

func badgerOptions(dir string, readOnly bool) badger.Options {
	// Tuned for a small index opened by short-lived processes: no logger,
	// small memtables (their arena is allocated at open), no block cache
	// (ristretto sizes its counters from it at open), no compression (which
	// would require that cache). Two compactors is badger's minimum when
	// compaction is on; they only work when level 0 fills up.
	//
	// Writes are not synced one by one: every object is synced to disk
	// before the index names it, so an index write lost to a power cut can
	// only forget an output (rebuilt next time, the object adopted), never
	// point at a missing one; and a killed process loses nothing, since
	// the writes are already in the page cache. Close syncs once. A sync
	// per record cost a build step more than the step itself.
	return badger.DefaultOptions(dir).
		WithLogger(nil).
		WithReadOnly(readOnly).
		WithSyncWrites(false).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithValueThreshold(64 << 10).
		WithValueLogFileSize(16 << 20).
		WithBaseTableSize(2 << 20).
		WithNumCompactors(2).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(12).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithMetricsEnabled(false).
		WithDetectConflicts(false).
		WithNumGoroutines(2)
}

func (s *Store) checkSchema() error {
	var have int
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(schemaKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 1 {
				return fmt.Errorf("unreadable schema version %q", v)
			}
			have = n
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("reading the schema version of store %s: %w", s.root, err)
	}
	switch {
	case have > SchemaVersion:
		return fmt.Errorf("opening store %s: %w: it has schema version %d, this kiln reads up to %d; upgrade kiln, or use another store with --store or KILN_STORE",
			s.root, ErrNewerSchema, have, SchemaVersion)
	case have == SchemaVersion:
		return nil
	case have == 0 && s.readOnly:
		return fmt.Errorf("opening store %s read-only: %w (it was never written)", s.root, ErrNoStore)
	case have == 0:
		return s.update(func(txn *badger.Txn) error {
			return txn.Set(schemaKey, []byte(strconv.Itoa(SchemaVersion)))
		})
	default:
		// No older schema has ever been released; a migration goes here.
		return fmt.Errorf("opening store %s: schema version %d is not supported; remove the store or use another one with --store", s.root, have)
	}
}

// Close flushes pending last-use times, closes the index and releases the
// process lock.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	err := s.flushTouches()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.dbMu.Lock()
	var cerr error
	if s.dbRW {
		// Index writes are not synced one by one (see badgerOptions):
		// one sync here makes the whole build's records durable.
		cerr = s.db.Sync()
	}
	if err := s.db.Close(); cerr == nil {
		cerr = err
	}
	s.dbMu.Unlock()
	if err == nil && cerr != nil {
		err = fmt.Errorf("closing the index of store %s: %w", s.root, cerr)
	}
	s.unlock()
	return err
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(*badger.Txn) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.View(fn)
}

// update runs fn in a write transaction.
func (s *Store) update(fn func(*badger.Txn) error) error {
	return s.withWriteDB(func(db *badger.DB) error { return db.Update(fn) })
}

// withWriteDB calls fn with the index open for writing, reopening it so if
// it is still read-only.
func (s *Store) withWriteDB(fn func(*badger.DB) error) error {
	if err := s.writable(); err != nil {
		return err
	}
	for {
		s.dbMu.RLock()
		if s.dbRW {
			defer s.dbMu.RUnlock()
			return fn(s.db)
		}
		s.dbMu.RUnlock()
		if err := s.upgrade(); err != nil {
			return err
		}
	}
}

func (s *Store) upgrade() error {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if s.dbRW {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("reopening the index of store %s for writing: %w", s.root, err)
	}
	db, err := badger.Open(badgerOptions(filepath.Join(s.root, "index"), false))
	if err != nil {
		// Leave a usable read-only index behind, so that reads go on and
		// Close works.
		if ro, rerr := badger.Open(badgerOptions(filepath.Join(s.root, "index"), true)); rerr == nil {
			s.db = ro
		}
		if isPermission(err) {
			return unwritable(s.root, err)
		}
		return fmt.Errorf("reopening the index of store %s for writing: %w", s.root, err)
	}
	s.db, s.dbRW = db, true
	return nil
}

func (s *Store) unlock() {
	releaseLock(s.lock, s.readOnly)
	openRoots.Delete(s.root)
}

// Root returns the absolute path of the store's root directory.
func (s *Store) Root() string { return s.root }

func (s *Store) writable() error {
	if s.readOnly {
		return fmt.Errorf("store %s is open read-only", s.root)
	}
	return nil
}

func (s *Store) tmpPath() string { return filepath.Join(s.root, "tmp") }

// tempPrefix names this process in temporary entries, so that what a
// killed kiln leaves (kiln store verify lists it) says whose it was.
var tempPrefix = strconv.Itoa(os.Getpid()) + "-"

// TempDir creates a fresh directory under the store's tmp directory, on the
// same filesystem as the objects so that AddLayer can rename it into place.
// Whatever is left there when the store is next opened is removed, after
// unmounting anything mounted below it.
func (s *Store) TempDir(prefix string) (string, error) {
	if err := s.writable(); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(s.tmpPath(), prefix+tempPrefix)
	if err != nil {
		return "", fmt.Errorf("creating a temporary directory in store %s: %w", s.root, err)
	}
	s.mu.Lock()
	s.temps[dir] = struct{}{}
	s.mu.Unlock()
	return dir, nil
}

func (s *Store) tempFile(prefix string) (*os.File, error) {
	f, err := os.CreateTemp(s.tmpPath(), prefix+tempPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file in store %s: %w", s.root, err)
	}
	s.mu.Lock()
	s.temps[f.Name()] = struct{}{}
	s.mu.Unlock()
	return f, nil
}

func (s *Store) forgetTemp(p string) {
	s.mu.Lock()
	delete(s.temps, p)
	s.mu.Unlock()
}

// cleanTemp removes what earlier processes left under tmp. It runs with the
// exclusive lock held, so no live kiln owns anything there; but the steps
// of a kiln killed a moment ago may still be dying and writing into their
// upper directories. Removal is retried briefly and otherwise left to the
// next Open: leftovers have unique names and harm nothing. A mount a killed
// kiln left there (a read-only view of an older kiln's file step) is
// unmounted first: removing through it would fail, or worse, delete what
// it shows.
func (s *Store) cleanTemp() error {
	ents, err := os.ReadDir(s.tmpPath())
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		if s.unmounted, err = unmountBelow(s.tmpPath()); err != nil {
			return err
		}
	}
	for _, e := range ents {
		p := filepath.Join(s.tmpPath(), e.Name())
		for try := 0; ; try++ {
			err := removeTree(p)
			if err == nil {
				break
			}
			if isPermission(err) {
				return err // a store we cannot write: say so at once
			}
			if try == 20 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func isPermission(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

func unwritable(root string, err error) error {
	if isPermission(err) {
		return fmt.Errorf("%w: %s: %v; pass --store DIR (or set KILN_STORE) to a directory you can write, or fix the permissions of %s",
			ErrNotWritable, root, err, root)
	}
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
		// A file where the store or one of its folders should be.
		return fmt.Errorf("%w: %s: %v; pass --store DIR (or set KILN_STORE) to a directory, or move the file out of the way",
			ErrNotWritable, root, err)
	}
	return fmt.Errorf("preparing store %s: %w", root, err)
}
