package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Key locks serialize work on one name across processes: building a
// derivation (so that two processes wanting it build it once), and adding
// or removing an object (so that GC never deletes a tree that an add has
// just adopted). They are flock'ed files under locks/, which the kernel
// releases when their holder dies; a holder removes its file before
// unlocking, and a taker checks after locking that the file it holds is
// still the one under the name (Nix's path locks do the same), so the
// directory does not fill up and no stale file ever needs removing.

// keyLock is a held key lock.
type keyLock struct{ f *os.File }

func (s *Store) lockPath(k []byte) string {
	return filepath.Join(s.root, "locks", fmt.Sprintf("%c-%x", k[0], k[1:]))
}

// lockKey takes the lock of index key k, waiting (polling, so that ctx can
// stop the wait) while another process or goroutine holds it. With wait
// false it returns nil, nil when the lock is busy.
//
// The holder writes its pid into the file, so that a waiter can tell a
// holder that is stopped (SIGSTOP, Ctrl-Z) from one that is merely slow:
// one seen stopped for holderStoppedFor fails the wait with a
// *holderStopped error rather than waiting for a process that may never
// go on. The pid is only a hint: the flock is what holds, and a holder
// killed with -9 frees it all the same (its successor rewrites the pid).
func (s *Store) lockKey(ctx context.Context, k []byte, wait bool) (*keyLock, error) {
	path := s.lockPath(k)
	delay := time.Millisecond
	var (
		stoppedPID   int
		stoppedSince time.Time
		lastCheck    time.Time
	)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if errors.Is(err, os.ErrNotExist) {
			if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
				continue
			}
		}
		if err != nil {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		err = flock(f, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			if samePath(f, path) {
				// A failed write leaves the pid out, which only
				// costs waiters the stopped-holder check.
				if f.Truncate(0) == nil {
					_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
				}
				return &keyLock{f}, nil
			}
			f.Close() // its holder removed it as we took it: again
			continue
		}
		if wait && errors.Is(err, unix.EWOULDBLOCK) && time.Since(lastCheck) >= holderCheckEvery {
			lastCheck = time.Now()
			switch pid := keyHolderPID(f); {
			case pid <= 0 || !processStopped(pid):
				stoppedPID = 0
			case pid != stoppedPID:
				stoppedPID, stoppedSince = pid, lastCheck
			case time.Since(stoppedSince) >= holderStoppedFor:
				f.Close()
				return nil, &holderStopped{pid: pid}
			}
		}
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !wait {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(delay):
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
}

// holderStoppedFor is how long a waiter for a key lock waits on a holder
// seen stopped, as ownerStoppedFor for the index owner. Variables for
// tests.
var (
	holderStoppedFor = 2 * time.Second
	holderCheckEvery = 100 * time.Millisecond
)

// holderStopped is the error of a wait on a key lock whose holder stayed
// stopped; callers wrap it with what the lock is for.
type holderStopped struct{ pid int }

func (e *holderStopped) Error() string {
	return fmt.Sprintf("kiln pid %d holds it and has been stopped for %s (Ctrl-Z or SIGSTOP); resume it (fg, or kill -CONT %d) or end it, then run this again",
		e.pid, holderStoppedFor, e.pid)
}

// Is makes a stopped holder match ErrHolderStopped.
func (e *holderStopped) Is(target error) bool { return target == ErrHolderStopped }

// ErrHolderStopped is matched by the error of LockBuild or LockCache when
// the process holding the lock is stopped.
var ErrHolderStopped = errors.New("the lock's holder is stopped")

// keyHolderPID reads the pid a key lock's holder wrote into f; 0 when there
// is none (yet): unlike the store lock's holderPID it does not wait for
// one, the next poll reads it again.
func keyHolderPID(f *os.File) int {
	var b [16]byte
	n, _ := f.ReadAt(b[:], 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		return 0
	}
	return pid
}

func (l *keyLock) unlock() {
	if l == nil {
		return
	}
	_ = os.Remove(l.f.Name())
	_ = l.f.Close()
}

// LockBuild is taken before building drv, so that a derivation wanted by
// several processes (or goroutines) at once is built once. It waits while
// another holds the lock, then looks drv up again: when found, the other
// built it, and LockBuild returns its output with ok set and the lock
// already released. Otherwise the caller builds, records, and calls
// unlock (always non-nil; safe to call twice is not promised).
//
// busy, when not nil, is called once before waiting for another holder,
// so that a caller can give back what it holds meanwhile (a job slot:
// others' work may run while this waits).
func (s *Store) LockBuild(ctx context.Context, drv digest.Digest, busy func()) (out Output, ok bool, unlock func(), err error) {
	k, err := key(pOutput, drv)
	if err != nil {
		return Output{}, false, nil, fmt.Errorf("locking the build of %s: %w", drv, err)
	}
	l, err := s.lockKey(ctx, k, false)
	if err == nil && l == nil {
		if busy != nil {
			busy()
		}
		l, err = s.lockKey(ctx, k, true)
	}
	if hs := (*holderStopped)(nil); errors.As(err, &hs) {
		return Output{}, false, nil, fmt.Errorf("waiting for derivation %s, which another kiln process is building: %w", drv, err)
	}
	if err != nil {
		return Output{}, false, nil, err
	}
	out, ok, err = s.Lookup(drv)
	if err != nil || ok {
		l.unlock()
		return out, ok, func() {}, err
	}
	return Output{}, false, l.unlock, nil
}

// LockCache holds the cache mount named id for one step, across every
// process using the store (a cache = "locked" mount waits for it; a
// "private" one, with wait false, takes a fresh directory when ok is
// false). The kernel releases it if the holder dies. busy, when not nil,
// is called once before waiting, as LockBuild's.
func (s *Store) LockCache(ctx context.Context, id string, wait bool, busy func()) (unlock func(), ok bool, err error) {
	sum := sha256.Sum256([]byte(id))
	k := append([]byte{'c'}, sum[:16]...)
	l, err := s.lockKey(ctx, k, false)
	if err == nil && l == nil && wait {
		if busy != nil {
			busy()
		}
		l, err = s.lockKey(ctx, k, true)
	}
	if hs := (*holderStopped)(nil); errors.As(err, &hs) {
		return nil, false, fmt.Errorf("waiting for cache mount %q, which another step holds (sharing = \"locked\"): %w", id, err)
	}
	if err != nil || l == nil {
		return nil, false, err
	}
	return l.unlock, true, nil
}
