package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/kiln-build/kiln/internal/rootless"
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
// concurrent use by several goroutines of the process that opened it, and
// any number of processes may have the store open at once (see doc.go).
type Store struct {
	root     string
	lock     *os.File
	readOnly bool
	now      func() time.Time

	ix   *index
	proc *participant // this Store's temp roots; nil for a read-only one

	// gcMu is held shared by adds and exclusively by GC and Verify, so that
	// those can treat an unindexed object of this process as garbage
	// rather than as an add in progress (other processes' adds are
	// guarded by key locks).
	gcMu sync.RWMutex

	mu      sync.Mutex
	pending map[string]struct{} // index keys whose last use is to be rewritten
	temps   map[string]struct{} // temp paths handed out by this Store
	closed  bool

	// unmounted are the mounts a killed kiln left under tmp, which Open
	// unmounted; Verify reports them.
	unmounted []string

	// cachesInUse counts the steps of this process using each cache
	// mount, by directory name (see caches.go); guarded by mu.
	cachesInUse map[string]int
}

type config struct {
	notice     func(int)
	readOnly   bool
	shortLived bool
	now        func() time.Time
}

// Option configures Open.
type Option func(*config)

// WithWaitNotice makes Open call notice once, with the holder's pid (0 when
// unknown), before it blocks waiting for an older kiln, which takes the
// store for itself alone, to release it. Processes of this kiln never wait
// for each other in Open.
func WithWaitNotice(notice func(holderPID int)) Option {
	return func(c *config) { c.notice = notice }
}

// WithReadOnly opens the store for reading only: Open creates nothing, and
// methods that would write return an error; last-use times are not
// recorded. Like any other user, a read-only one runs next to builds.
func WithReadOnly() Option {
	return func(c *config) { c.readOnly = true }
}

// WithShortLived says that the process ends soon after Close, as a command
// does. Close then leaves an index this process opened and only read to
// the kernel rather than closing it through badger, which syncs files and
// directories even when nothing was written (about a millisecond of a
// no-op build); everything a writer must make durable is synced as
// without it. A process that goes on after Close (tests, a server) must
// not use it: it would keep the index's files open and mapped.
func WithShortLived() Option {
	return func(c *config) { c.shortLived = true }
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
// ~/.local/share/kiln), also for a rootless kiln, which is root only in its
// user namespace.
func DefaultRoot() string {
	if r := os.Getenv("KILN_STORE"); r != "" {
		return r
	}
	if os.Geteuid() == 0 && !rootless.Active() {
		return "/var/lib/kiln"
	}
	return userDefaultRoot()
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
	if err := CheckOwner(root); err != nil {
		return nil, err
	}
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
		for _, d := range []string{"", "index", "layers", "blobs", "logs", "tmp", "procs", "locks"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				return nil, unwritable(root, err)
			}
		}
	}
	// Every kiln of this design holds the old process lock shared, so that
	// an older kiln (which takes it exclusively and cannot share badger)
	// waits for all of them and they for it.
	lock, err := acquireLock(filepath.Join(root, "lock"), true, c.notice)
	if err != nil {
		if c.readOnly {
			return nil, fmt.Errorf("locking store %s: %w", root, err)
		}
		return nil, unwritable(root, err)
	}
	s.lock = lock
	fail := func(err error) (*Store, error) {
		s.ix.close()
		s.proc.release()
		s.unlock()
		return nil, err
	}
	if !c.readOnly {
		if s.proc, err = register(root); err != nil {
			return fail(unwritable(root, err))
		}
		if err := s.cleanDead(); err != nil {
			return fail(unwritable(root, err))
		}
	}
	s.ix = &index{root: root, readOnly: c.readOnly, shortLived: c.shortLived, token: s.token(), roots: func(except string) (map[string]bool, error) {
		return liveRoots(root, except)
	}}
	if err := s.checkSchema(); err != nil {
		return fail(err)
	}
	return s, nil
}

// token names this Store among the processes using the store.
func (s *Store) token() string {
	if s.proc == nil {
		return ""
	}
	return s.proc.token
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
	vals, found, err := s.get(schemaKey)
	if err == nil && found[0] {
		n, perr := strconv.Atoi(string(vals[0]))
		if perr != nil || n < 1 {
			err = fmt.Errorf("unreadable schema version %q", vals[0])
		}
		have = n
	}
	if err != nil {
		if errors.Is(err, ErrVersionMismatch) || errors.Is(err, ErrNotWritable) {
			return err
		}
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
		return s.write(batch{Set: []entry{{schemaKey, []byte(strconv.Itoa(SchemaVersion))}}})
	default:
		// No older schema has ever been released; a migration goes here.
		return fmt.Errorf("opening store %s: schema version %d is not supported; remove the store or use another one with --store", s.root, have)
	}
}

// Close flushes pending last-use times, hands the index over if this
// process owned it, and leaves the store.
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
	if cerr := s.ix.close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the index of store %s: %w", s.root, cerr)
	}
	s.proc.release()
	s.unlock()
	return err
}

// get reads index keys, wherever the index is.
func (s *Store) get(keys ...[]byte) ([][]byte, []bool, error) {
	var vals [][]byte
	var found []bool
	err := s.ix.do(func(ix kv) (err error) {
		vals, found, err = ix.get(keys)
		return err
	})
	return vals, found, err
}

// write applies b to the index.
func (s *Store) write(b batch) error {
	if err := s.writable(); err != nil {
		return err
	}
	return s.ix.do(func(ix kv) error { return ix.write(b) })
}

// scan reads every entry under prefixes in one transaction.
func (s *Store) scan(prefixes ...byte) ([]entry, error) {
	var ents []entry
	err := s.ix.do(func(ix kv) (err error) {
		ents, err = ix.scan(prefixes)
		return err
	})
	return ents, err
}

func (s *Store) unlock() {
	releaseLock(s.lock, true)
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

// TempDir creates a fresh directory under the store's tmp directory, on the
// same filesystem as the objects so that AddLayer can rename it into place.
// Its name starts with this Store's token: whatever is left there once the
// Store is gone is removed by the next Open, after unmounting anything
// mounted below it.
func (s *Store) TempDir(prefix string) (string, error) {
	if err := s.writable(); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(s.tmpPath(), prefix+s.token()+"-")
	if err != nil {
		return "", fmt.Errorf("creating a temporary directory in store %s: %w", s.root, err)
	}
	s.mu.Lock()
	s.temps[dir] = struct{}{}
	s.mu.Unlock()
	return dir, nil
}

func (s *Store) tempFile(prefix string) (*os.File, error) {
	f, err := os.CreateTemp(s.tmpPath(), prefix+s.token()+"-")
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

// OwnerError is a store that belongs to another user than the one running
// kiln: a normal user's kiln never writes into root's store (or another
// user's), where its files would be owned by the wrong user and its
// builds would trust steps it did not run.
type OwnerError struct {
	Root  string
	Owner string
}

func (e *OwnerError) Error() string {
	return fmt.Sprintf("the store %s belongs to %s, not to the user running kiln: each user has a store of their own; use yours (unset KILN_STORE and leave out --store for the default, %s), or run kiln as %s", e.Root, e.Owner, userDefaultRoot(), e.Owner)
}

// CheckOwner fails with an *OwnerError when a normal user's kiln (rootless
// or not yet in its namespace) is pointed at an existing store that another
// user owns. Root may open any store.
func CheckOwner(root string) error {
	if os.Geteuid() == 0 && !rootless.Active() {
		return nil
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == os.Geteuid() {
		return nil
	}
	return &OwnerError{Root: root, Owner: ownerName(st.Uid)}
}

// ownerName names uid for an error. Inside a rootless kiln's namespace the
// ids outside its mapping (root's, other users') all read as the
// kernel's overflow id, so the owner cannot be told apart further.
func ownerName(uid uint32) string {
	if rootless.Active() {
		if b, err := os.ReadFile("/proc/sys/kernel/overflowuid"); err == nil && strconv.Itoa(int(uid)) == strings.TrimSpace(string(b)) {
			return "another user (root or a user outside your id range)"
		}
		return fmt.Sprintf("uid %d of your user namespace (host uid in your subordinate range)", uid)
	}
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// userDefaultRoot is DefaultRoot for a normal user, whatever KILN_STORE says.
func userDefaultRoot() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "kiln")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".local", "share", "kiln")
}
