package realize

import (
	"io"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/store"
)

// stepLog is where a running step's output goes: its log file in the
// store, progress events line by line, and the tail kept for a failure
// message, every secret of the build redacted first.
type stepLog struct {
	st        *store.Store
	dg        digest.Digest
	file      *store.LogFile
	lines     *lineWriter
	red       *redactor
	tail      *tail
	w         io.Writer // what the step writes to
	committed bool
}

func (r *Realizer) newStepLog(dg digest.Digest, d *compiler.Derivation) (*stepLog, error) {
	f, err := r.st.CreateLog(dg)
	if err != nil {
		return nil, err
	}
	l := &stepLog{st: r.st, dg: dg, file: f, tail: newTail(20)}
	l.lines = &lineWriter{emit: func(line string) {
		l.tail.add(line)
		r.opts.Events(Event{Kind: EventLog, Digest: dg, Name: d.Name, Line: line})
	}}
	l.w = io.MultiWriter(f, l.lines)
	// Every secret of the build, not only this step's: a cache mount can
	// carry one from the step that had it.
	var secrets [][]byte
	for _, v := range r.opts.Secrets {
		secrets = append(secrets, v)
	}
	if l.red = newRedactor(l.w, secrets); l.red != nil {
		l.w = l.red
	}
	return l, nil
}

// commit flushes what the step wrote last and keeps the log, returning
// its path ("" when it could not be kept).
func (l *stepLog) commit() string {
	if l.red != nil {
		l.red.Flush()
	}
	l.lines.flush()
	if err := l.file.Commit(); err != nil {
		return ""
	}
	l.committed = true
	return l.st.LogPath(l.dg)
}

// abort drops a log that was not committed.
func (l *stepLog) abort() {
	if !l.committed {
		l.file.Abort()
	}
}

// lineWriter splits a byte stream into lines for progress events.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a line without end: emit what we have
		w.emit(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

// tail keeps the last n lines.
type tail struct {
	mu sync.Mutex
	n  int
	ls []string
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ls = append(t.ls, l)
	if len(t.ls) > t.n {
		t.ls = t.ls[len(t.ls)-t.n:]
	}
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.ls...)
}
