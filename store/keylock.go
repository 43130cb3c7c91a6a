package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
func (s *Store) lockKey(ctx context.Context, k []byte, wait bool) (*keyLock, error) {
	path := s.lockPath(k)
	delay := time.Millisecond
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
				return &keyLock{f}, nil
			}
			f.Close() // its holder removed it as we took it: again
			continue
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
// false). The kernel releases it if the holder dies.
func (s *Store) LockCache(ctx context.Context, id string, wait bool) (unlock func(), ok bool, err error) {
	sum := sha256.Sum256([]byte(id))
	l, err := s.lockKey(ctx, append([]byte{'c'}, sum[:16]...), wait)
	if err != nil || l == nil {
		return nil, false, err
	}
	return l.unlock, true, nil
}
