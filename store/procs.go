package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Every open Store registers itself as a participant: procs/<token>, a
// file it holds flock'ed for its life and into which it appends its temp
// roots (the index keys of what it looked up, added or recorded), after
// Nix's temproots. The kernel drops the flock when the process dies, so
// "is the flock held" is the liveness test, and a file nobody holds is
// garbage that anyone may remove. The token, "<pid>-<8 hex>", also starts
// the names of the Store's temporary entries, so that a cleaner knows
// whose they are.
type participant struct {
	token string
	mu    sync.Mutex
	f     *os.File
}

func procsDir(root string) string { return filepath.Join(root, "procs") }

func newToken() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// register creates and locks this Store's participant file.
func register(root string) (*participant, error) {
	if err := os.MkdirAll(procsDir(root), 0o755); err != nil {
		return nil, err
	}
	for {
		tok := newToken()
		path := filepath.Join(procsDir(root), tok)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o644)
		if err != nil {
			return nil, err
		}
		// Blocking: a cleaner testing liveness holds a shared lock for a
		// moment. One that got it before us took the file for dead and
		// may have removed it; then start over under a new name.
		if err := flock(f, unix.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
		if samePath(f, path) {
			return &participant{token: tok, f: f}, nil
		}
		f.Close()
	}
}

// samePath reports whether path still names the open file f.
func samePath(f *os.File, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// pin records keys as temp roots of this process. It must return before
// the caller reads those keys in the index: GC's collect relies on it.
// The write is not synced: the roots matter only while this process
// lives, and the page cache is shared by every process. Keys are not
// deduplicated: a build pins each derivation a few times, 33 bytes each,
// and a no-op build pins everything once, where a set would cost more
// than the write.
func (p *participant) pin(keys ...[]byte) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	buf := make([]byte, 0, 33*len(keys))
	for _, k := range keys {
		if len(k) == 33 {
			buf = append(buf, k...)
		}
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := p.f.Write(buf); err != nil {
		return fmt.Errorf("registering temp roots in %s: %w", p.f.Name(), err)
	}
	return nil
}

// release removes the participant file and drops its lock. Removing first
// means a cleaner never sees a file it could lock while this one lives.
func (p *participant) release() {
	if p == nil {
		return
	}
	_ = os.Remove(p.f.Name())
	_ = p.f.Close()
}

// alive reports whether the participant named tok still holds its file.
func alive(root, tok string) bool {
	f, err := os.Open(filepath.Join(procsDir(root), tok))
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(flock(f, unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
}

// removeIfDead removes a participant file that no process holds, holding
// its lock itself while it does. Tested first and removed after, a file
// whose process locked it in between (register's window from creation to
// lock) would be removed under a live process, and every temporary entry
// that process owns would then count as a dead one's: its steps' upper
// directories removed while they run. Under this lock, register waits
// and then finds the path gone (samePath), and starts over.
func removeIfDead(root, tok string) {
	path := filepath.Join(procsDir(root), tok)
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if flock(f, unix.LOCK_EX|unix.LOCK_NB) != nil {
		return // held: alive, or another cleaner is looking at it
	}
	if samePath(f, path) {
		_ = os.Remove(path)
	}
}

// liveRoots returns the temp roots of every live participant but except.
// The files of dead ones are removed on the way.
func liveRoots(root, except string) (map[string]bool, error) {
	ents, err := os.ReadDir(procsDir(root))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	held := map[string]bool{}
	for _, e := range ents {
		tok := e.Name()
		if tok == except {
			continue
		}
		path := filepath.Join(procsDir(root), tok)
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if !errors.Is(flock(f, unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK) {
			f.Close()
			continue // dead; cleanDead removes it with its temps
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		// Only whole keys count: a key being appended belongs to a look-up
		// that has not read the index yet.
		for i := 0; i+33 <= len(b); i += 33 {
			held[string(b[i:i+33])] = true
		}
	}
	return held, nil
}

// ownerOf returns the token that starts a temporary entry's name
// ("<prefix><pid>-<8 hex>-<random>"), or "" for a name of another form
// (left by an older kiln, which never runs next to this one).
func ownerOf(name string) string {
	parts := strings.Split(name, "-")
	for i := 0; i+1 < len(parts); i++ {
		if isDecimal(parts[i]) && len(parts[i+1]) == 8 && isHex(parts[i+1]) {
			return parts[i] + "-" + parts[i+1]
		}
	}
	return ""
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// deadTemps returns the entries of tmp whose owner is not alive.
func (s *Store) deadTemps() ([]string, error) {
	ents, err := os.ReadDir(s.tmpPath())
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	var dead []string
	for _, e := range ents {
		tok := ownerOf(e.Name())
		if tok != "" && tok == s.token() {
			continue
		}
		isLive, seen := live[tok]
		if !seen {
			isLive = tok != "" && alive(s.root, tok)
			live[tok] = isLive
		}
		if !isLive {
			dead = append(dead, filepath.Join(s.tmpPath(), e.Name()))
		}
	}
	return dead, nil
}

// cleanDead removes what dead processes left: their entries under tmp and
// their participant files. The steps of a kiln killed a moment ago may
// still be dying and writing into their upper directories, so removal is
// retried briefly and otherwise left to the next Open: leftovers have
// unique names and harm nothing. A mount a killed kiln left there (a
// read-only view of an older kiln's file step) is unmounted first:
// removing through it would fail, or worse, delete what it shows.
func (s *Store) cleanDead() error {
	dead, err := s.deadTemps()
	if err != nil {
		return err
	}
	for _, p := range dead {
		points, err := unmountBelow(p)
		s.unmounted = append(s.unmounted, points...)
		if err != nil {
			return err
		}
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
	ents, _ := os.ReadDir(procsDir(s.root))
	for _, e := range ents {
		if e.Name() != s.token() {
			removeIfDead(s.root, e.Name())
		}
	}
	return nil
}
