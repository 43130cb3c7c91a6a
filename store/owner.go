package store

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// protocolVersion names the requests and replies below. Processes that
// disagree on it, or on SchemaVersion, refuse to share a store.
const protocolVersion = 1

// index is the Store's handle on the index wherever it lives. The first
// process that needs the index takes index.lock (a non-blocking exclusive
// flock), opens badger and serves the other processes over the unix socket
// index.sock; they are clients. When the owner closes its Store it stops
// serving and lets the lock go; when it dies the kernel drops the lock and
// the socket stops answering. Either way a client's next request fails
// with errLost, and the client elects again: one of them wins the lock
// (removing a socket file the dead owner left) and the others connect to
// it. Requests are idempotent, so the one that was cut off is sent again.
type index struct {
	root     string
	readOnly bool
	// shortLived: the process ends soon after Close (WithShortLived).
	shortLived bool
	token      string
	roots      func(except string) (map[string]bool, error)

	mu     sync.Mutex
	cur    kv
	owned  *ownership // set while this process owns the index
	closed bool
}

// errLost is a request cut off by the loss of the owner.
type errLost struct{ err error }

func (e errLost) Error() string { return "lost the store's index owner: " + e.err.Error() }

func (ix *index) sockPath() string { return filepath.Join(ix.root, "index.sock") }

// do runs fn on the current index, electing again when the owner is lost.
func (ix *index) do(fn func(kv) error) error {
	var last error
	for try := 0; try < 100; try++ {
		cur, err := ix.current()
		if err != nil {
			return err
		}
		err = fn(cur)
		var lost errLost
		if !errors.As(err, &lost) {
			return err
		}
		last = err
		ix.drop(cur)
	}
	return fmt.Errorf("store %s: %w; its owners keep going away", ix.root, last)
}

func (ix *index) drop(cur kv) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.cur == cur {
		_ = cur.close()
		ix.cur = nil
	}
}

func (ix *index) current() (kv, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil, fmt.Errorf("store %s is closed", ix.root)
	}
	if ix.cur != nil {
		return ix.cur, nil
	}
	cur, err := ix.elect()
	if err != nil {
		return nil, err
	}
	ix.cur = cur
	return cur, nil
}

// elect makes this process the owner if no other is, else connects to the
// owner. An owner is busy for a moment between taking the lock and
// listening, so failing to connect is retried; an owner that holds the
// lock without ever answering (stopped with SIGSTOP, say) is reported.
func (ix *index) elect() (kv, error) {
	delay := 200 * time.Microsecond
	deadline := time.Now().Add(time.Minute)
	var stoppedSince time.Time
	for {
		own, err := ix.tryOwn()
		if err != nil {
			return nil, err
		}
		if own != nil {
			ix.owned = own
			return own.local, nil
		}
		c, err := dialOwner(ix.sockPath())
		if err == nil {
			r, err := handshake(c, ix.root)
			if err == nil {
				return r, nil
			}
			c.Close()
			var lost errLost
			if !errors.As(err, &lost) {
				return nil, err
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("store %s: kiln pid %d owns its index but neither answers on %s nor lets go; is it stopped (Ctrl-Z)? Resume or end it",
				ix.root, ownerPID(ix.root), ix.sockPath())
		}
		if pid := ownerPID(ix.root); processStopped(pid) {
			if stoppedSince.IsZero() {
				stoppedSince = time.Now()
			} else if time.Since(stoppedSince) >= ownerStoppedFor {
				return nil, stoppedError(ix.root, pid)
			}
		} else {
			stoppedSince = time.Time{}
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// ownership is what the owner holds: the lock, badger and the server.
type ownership struct {
	lock  *os.File
	local *localKV
	srv   *server
}

// tryOwn takes index.lock if it is free and then opens the index and
// starts serving it; it returns nil, nil when another process owns it.
func (ix *index) tryOwn() (*ownership, error) {
	path := filepath.Join(ix.root, "index.lock")
	flag := os.O_RDWR | os.O_CREATE
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil && ix.readOnly {
		f, err = os.Open(path)
	}
	if err != nil {
		if ix.readOnly && errors.Is(err, os.ErrNotExist) {
			// A store no writer has opened since it was made by an older
			// kiln; a read-only user can still own its index.
			return ix.ownLocked(nil)
		}
		return nil, unwritable(ix.root, err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// Read-only owners too: clients name the owner by this pid.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	own, err := ix.ownLocked(f)
	if err != nil {
		f.Close()
	}
	return own, err
}

func (ix *index) ownLocked(lock *os.File) (*ownership, error) {
	local, err := openLocal(ix.root, ix.readOnly, lock != nil, ix.shortLived)
	if err != nil {
		return nil, err
	}
	local.liveRoots = ix.roots
	own := &ownership{lock: lock, local: local}
	if lock != nil {
		// Only the holder of the lock may remove the socket file: one left
		// by a killed owner would make every dial fail until removed.
		sock := ix.sockPath()
		_ = os.Remove(sock)
		srv, err := serve(sock, local, ix.root)
		if err != nil {
			local.close()
			return nil, fmt.Errorf("serving the index of store %s: %w", ix.root, err)
		}
		own.srv = srv
	}
	return own, nil
}

// close hands the index over: an owner stops serving (finishing requests
// in progress), closes badger and lets the lock go; a client hangs up.
func (ix *index) close() error {
	if ix == nil {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	if ix.cur == nil {
		return nil
	}
	if own := ix.owned; own != nil {
		own.srv.stop()
		err := own.local.close()
		if own.lock != nil {
			_ = own.lock.Truncate(0)
			own.lock.Close()
		}
		ix.owned, ix.cur = nil, nil
		return err
	}
	err := ix.cur.close()
	ix.cur = nil
	return err
}

// sockName shortens path when it is too long for a unix socket address
// (108 bytes) by going through a descriptor of its directory.
func sockName(path string) (string, func(), error) {
	if len(path) < 100 {
		return path, func() {}, nil
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, filepath.Base(path)), func() { unix.Close(fd) }, nil
}

func dialOwner(path string) (net.Conn, error) {
	name, done, err := sockName(path)
	if err != nil {
		return nil, err
	}
	defer done()
	return net.Dial("unix", name)
}

type remoteKV struct {
	mu   sync.Mutex
	c    net.Conn
	w    *wire
	root string
	pid  int // the owner's
}

// handshake checks that the owner speaks this kiln's protocol and schema.
func handshake(c net.Conn, root string) (*remoteKV, error) {
	// A stopped owner's socket still accepts (the kernel queues the
	// connection), so the hello is watched as every request is.
	r := &remoteKV{c: c, w: newWire(c), root: root, pid: ownerPID(root)}
	mine := hello{Proto: protocolVersion, Schema: SchemaVersion, PID: os.Getpid()}
	w := r.watch()
	if err := r.w.send(encodeHello(mine)); err != nil {
		return nil, w.err(err)
	}
	d, err := r.w.recv()
	if err != nil {
		return nil, w.err(err)
	}
	w.stop()
	theirs, err := decodeHello(d)
	if err != nil {
		return nil, errLost{err}
	}
	if theirs.Proto != mine.Proto || theirs.Schema != mine.Schema {
		return nil, fmt.Errorf("opening store %s: %w: it is in use by kiln pid %d, a different kiln version (store schema %d, protocol %d; this kiln: schema %d, protocol %d); let that kiln finish or use another store with --store or KILN_STORE",
			root, ErrVersionMismatch, theirs.PID, theirs.Schema, theirs.Proto, mine.Schema, mine.Proto)
	}
	r.pid = theirs.PID
	return r, nil
}

// ErrOwnerStopped is returned (wrapped) by a request to an index owner
// that is stopped (SIGSTOP, Ctrl-Z): it holds the index, so no other
// process can take over until it resumes or ends.
var ErrOwnerStopped = errors.New("the store's owner is not responding")

// ownerStoppedFor is how long a request waits for an owner seen stopped;
// one merely slow (a large GC transaction) is waited for. Variables for
// tests.
var (
	ownerStoppedFor = 2 * time.Second
	ownerCheckEvery = 250 * time.Millisecond
)

// watchdog hangs up on the owner when it stays stopped for
// ownerStoppedFor during one request, so that the request fails with
// ErrOwnerStopped rather than waiting for a process that may never go on.
// A dead owner needs none: the kernel closes its socket and the client
// elects a new owner.
type watchdog struct {
	r       *remoteKV
	mu      sync.Mutex
	t       *time.Timer
	since   time.Time // when the owner was first seen stopped
	tripped bool
	done    bool
}

func (r *remoteKV) watch() *watchdog {
	w := &watchdog{r: r}
	w.mu.Lock()
	w.t = time.AfterFunc(ownerCheckEvery, w.check)
	w.mu.Unlock()
	return w
}

func (w *watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if !processStopped(w.r.pid) {
		w.since = time.Time{}
	} else if w.since.IsZero() {
		w.since = time.Now()
	} else if time.Since(w.since) >= ownerStoppedFor {
		w.tripped = true
		_ = w.r.c.Close()
		return
	}
	w.t.Reset(ownerCheckEvery)
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	w.t.Stop()
}

// err is the error of a request that failed with err: ErrOwnerStopped
// when the watchdog hung up, else the owner is lost.
func (w *watchdog) err(err error) error {
	w.stop()
	if w.tripped {
		return stoppedError(w.r.root, w.r.pid)
	}
	return errLost{err}
}

func stoppedError(root string, pid int) error {
	return fmt.Errorf("store %s: %w: kiln pid %d, which serves the store's index to the other kiln processes, has been stopped for %s (Ctrl-Z or SIGSTOP); resume it (fg, or kill -CONT %d) or end it, then run this again",
		root, ErrOwnerStopped, pid, ownerStoppedFor, pid)
}

// processStopped reports whether pid is stopped (state T or t in
// /proc/PID/stat); a process that cannot be read is not.
func processStopped(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The command name, in parentheses, may hold anything: the state
	// follows its last parenthesis.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] == 'T' || b[i+2] == 't'
}

// ErrVersionMismatch is returned (wrapped) when kiln processes of different
// store schemas or protocols meet on one store.
var ErrVersionMismatch = errors.New("another kiln version is using the store")

func (r *remoteKV) call(req request) (reply, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rep reply
	w := r.watch()
	if err := r.w.send(encodeRequest(req)); err != nil {
		return rep, w.err(err)
	}
	d, err := r.w.recv()
	if err != nil {
		return rep, w.err(err)
	}
	w.stop()
	if rep, err = decodeReply(d); err != nil {
		return rep, errLost{err}
	}
	if rep.Missing != nil {
		return rep, errMissing{rep.Missing}
	}
	if rep.Err != "" {
		return rep, errors.New(rep.Err)
	}
	return rep, nil
}

func (r *remoteKV) get(keys [][]byte) ([][]byte, []bool, error) {
	rep, err := r.call(request{Op: 'g', Keys: keys})
	return rep.Vals, rep.Found, err
}

func (r *remoteKV) scan(prefixes []byte) ([]entry, error) {
	rep, err := r.call(request{Op: 's', Prefixes: prefixes})
	return rep.Entries, err
}

func (r *remoteKV) write(b batch) error {
	_, err := r.call(request{Op: 'w', Batch: b})
	return err
}

func (r *remoteKV) collect(keys [][]byte, except string) ([][]byte, error) {
	rep, err := r.call(request{Op: 'c', Keys: keys, Except: except})
	return rep.Keys, err
}

func (r *remoteKV) close() error { return r.c.Close() }

// server answers the clients of the owner's index.
type server struct {
	ln   *net.UnixListener
	path string
	kv   *localKV

	// busy is held shared while a request is served and exclusively by
	// stop, which so lets requests in progress finish.
	busy  sync.RWMutex
	mu    sync.Mutex
	conns map[net.Conn]bool
	done  bool
}

func serve(path string, l *localKV, root string) (*server, error) {
	name, done, err := sockName(path)
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	done()
	if err != nil {
		return nil, err
	}
	// stop removes the file by its real name; the listener's own unlink
	// would go through a descriptor closed by then.
	ln.SetUnlinkOnClose(false)
	srv := &server{ln: ln, path: path, kv: l, conns: map[net.Conn]bool{}}
	go srv.accept()
	return srv, nil
}

func (srv *server) accept() {
	for {
		c, err := srv.ln.Accept()
		if err != nil {
			return
		}
		srv.mu.Lock()
		if srv.done {
			srv.mu.Unlock()
			c.Close()
			return
		}
		srv.conns[c] = true
		srv.mu.Unlock()
		go srv.conn(c)
	}
}

func (srv *server) conn(c net.Conn) {
	defer func() {
		srv.mu.Lock()
		delete(srv.conns, c)
		srv.mu.Unlock()
		c.Close()
	}()
	w := newWire(c)
	d, err := w.recv()
	if err != nil {
		return
	}
	theirs, err := decodeHello(d)
	if err != nil || w.send(encodeHello(hello{Proto: protocolVersion, Schema: SchemaVersion, PID: os.Getpid()})) != nil {
		return
	}
	if theirs.Proto != protocolVersion || theirs.Schema != SchemaVersion {
		return // the client reports the mismatch
	}
	for {
		d, err := w.recv()
		if err != nil {
			return
		}
		req, err := decodeRequest(d)
		if err != nil {
			return
		}
		srv.busy.RLock()
		srv.mu.Lock()
		stopping := srv.done
		srv.mu.Unlock()
		if stopping {
			srv.busy.RUnlock()
			return // unanswered: the client sends it to the next owner
		}
		rep := srv.handle(req)
		err = w.send(encodeReply(rep))
		srv.busy.RUnlock()
		if err != nil {
			return
		}
	}
}

func (srv *server) handle(req request) reply {
	var rep reply
	var err error
	switch req.Op {
	case 'g':
		rep.Vals, rep.Found, err = srv.kv.get(req.Keys)
	case 's':
		rep.Entries, err = srv.kv.scan(req.Prefixes)
	case 'w':
		err = srv.kv.write(req.Batch)
	case 'c':
		rep.Keys, err = srv.kv.collect(req.Keys, req.Except)
	default:
		err = fmt.Errorf("unknown request %q", req.Op)
	}
	var m errMissing
	if errors.As(err, &m) {
		rep.Missing = m.key
	} else if err != nil {
		rep.Err = err.Error()
	}
	return rep
}

// stop stops accepting, lets requests in progress finish and hangs up on
// every client, which then elect a new owner.
func (srv *server) stop() {
	if srv == nil {
		return
	}
	_ = os.Remove(srv.path)
	srv.mu.Lock()
	srv.done = true
	srv.mu.Unlock()
	srv.ln.Close()
	srv.busy.Lock()
	srv.mu.Lock()
	for c := range srv.conns {
		c.Close()
	}
	srv.mu.Unlock()
	srv.busy.Unlock()
	// The goroutines of the listener and connections end by themselves:
	// none touches the index once done is set and busy was taken, so
	// stop does not wait for them to be scheduled.
}

// ownerPID reads the pid the owner wrote into index.lock, for messages.
func ownerPID(root string) int {
	b, err := os.ReadFile(filepath.Join(root, "index.lock"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
