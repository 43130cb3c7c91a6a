package store

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// LogPath returns where the build log of drv lives: root/logs/<hex>.log, or
// "" for a digest that is not a valid sha256.
func (s *Store) LogPath(drv digest.Digest) string {
	if _, err := raw(drv); err != nil {
		return ""
	}
	return filepath.Join(s.root, "logs", drv.Encoded()+".log")
}

// LogFile is a build log being written. It lives under a temporary name
// until Commit, so a reader of LogPath never sees half a log of a step that
// is still running or was killed.
type LogFile struct {
	s     *Store
	f     *os.File
	final string
	done  bool
}

// CreateLog starts the build log of drv.
func (s *Store) CreateLog(drv digest.Digest) (*LogFile, error) {
	if err := s.writable(); err != nil {
		return nil, err
	}
	final := s.LogPath(drv)
	if final == "" {
		return nil, fmt.Errorf("creating a log: invalid digest %q", string(drv))
	}
	f, err := s.tempFile("log-")
	if err != nil {
		return nil, err
	}
	return &LogFile{s: s, f: f, final: final}, nil
}

// Write appends p to the log.
func (l *LogFile) Write(p []byte) (int, error) { return l.f.Write(p) }

// File returns the underlying file, for handing to a process as its stdout
// and stderr.
func (l *LogFile) File() *os.File { return l.f }

// Path returns where the log will be once committed.
func (l *LogFile) Path() string { return l.final }

// Commit moves the log into place, replacing an earlier log of the same
// derivation.
func (l *LogFile) Commit() error {
	if l.done {
		return nil
	}
	l.done = true
	tmp := l.f.Name()
	defer l.s.forgetTemp(tmp)
	if err := l.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing log %s: %w", l.final, err)
	}
	if err := os.Rename(tmp, l.final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing log %s: %w", l.final, err)
	}
	return nil
}

// Abort discards the log. It is a no-op after Commit, so it can be deferred.
func (l *LogFile) Abort() error {
	if l.done {
		return nil
	}
	l.done = true
	tmp := l.f.Name()
	defer l.s.forgetTemp(tmp)
	l.f.Close()
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("discarding log %s: %w", tmp, err)
	}
	return nil
}
