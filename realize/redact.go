package realize

import (
	"bytes"
	"io"
	"sort"
	"sync"
)

// MinRedactLen is the shortest secret value, or line of one, that step
// output is redacted for. Shorter ones are left alone, as CI systems do
// (GitLab refuses to mask values under 8 characters): replacing every "1"
// or "ab" in a log would garble it, and the stars would still show where
// the value occurs, so a value that short is not protected either way.
const MinRedactLen = 4

// Redacted is what a secret's value becomes in step output.
const Redacted = "***"

// redactPatterns are the byte strings a redactor replaces for these secret
// values: each value without surrounding white space (a file's value
// usually ends in a newline that `echo "$(cat f)"` does not print) and
// each of its lines, as GitHub Actions masks multi-line secrets line by
// line. Longest first, so the whole value wins over one of its lines.
func redactPatterns(values [][]byte) [][]byte {
	seen := map[string]bool{}
	var pats [][]byte
	add := func(b []byte) {
		b = bytes.TrimSpace(b)
		if len(b) < MinRedactLen || seen[string(b)] {
			return
		}
		seen[string(b)] = true
		pats = append(pats, bytes.Clone(b))
	}
	for _, v := range values {
		add(v)
		for _, l := range bytes.Split(v, []byte("\n")) {
			add(l)
		}
	}
	sort.SliceStable(pats, func(i, j int) bool { return len(pats[i]) > len(pats[j]) })
	return pats
}

// redactor replaces every pattern in the stream written to it with
// Redacted before passing it on. A value split across writes is caught:
// the end of a write that could begin a pattern is held back until the
// next write tells, or until Flush. Only such a tail is held, so output
// without secrets reaches the progress view as soon as it is written.
type redactor struct {
	mu    sync.Mutex
	w     io.Writer
	pats  [][]byte
	first [256]bool // first bytes of the patterns
	held  []byte
}

// newRedactor returns a redactor onto w for the secret values, or nil when
// none of them is long enough to redact.
func newRedactor(w io.Writer, values [][]byte) *redactor {
	pats := redactPatterns(values)
	if len(pats) == 0 {
		return nil
	}
	r := &redactor{w: w, pats: pats}
	for _, p := range pats {
		r.first[p[0]] = true
	}
	return r
}

func (r *redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	buf := append(r.held, p...)
	out, rest := r.scan(buf, false)
	r.held = append([]byte(nil), rest...)
	if len(out) > 0 {
		if _, err := r.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what is held back: the stream has ended, so it cannot
// become a secret any more.
func (r *redactor) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	out, _ := r.scan(r.held, true)
	r.held = nil
	if len(out) == 0 {
		return nil
	}
	_, err := r.w.Write(out)
	return err
}

// scan redacts buf; unless final, it stops at the first place from which
// the rest of buf is the beginning of a pattern and returns that rest.
func (r *redactor) scan(buf []byte, final bool) (out, rest []byte) {
	out = make([]byte, 0, len(buf))
	i := 0
	for i < len(buf) {
		// Bytes that begin no pattern pass in one go.
		j := i
		for j < len(buf) && !r.first[buf[j]] {
			j++
		}
		out = append(out, buf[i:j]...)
		if i = j; i == len(buf) {
			break
		}
		if n := r.matchAt(buf[i:]); n > 0 {
			out = append(out, Redacted...)
			i += n
			continue
		}
		if !final && r.couldBegin(buf[i:]) {
			return out, buf[i:]
		}
		out = append(out, buf[i])
		i++
	}
	return out, nil
}

// matchAt is the length of the longest pattern b starts with, or 0.
func (r *redactor) matchAt(b []byte) int {
	for _, p := range r.pats {
		if bytes.HasPrefix(b, p) {
			return len(p)
		}
	}
	return 0
}

// couldBegin tells whether b, all that is left of the stream so far, is a
// proper beginning of some pattern.
func (r *redactor) couldBegin(b []byte) bool {
	for _, p := range r.pats {
		if len(b) < len(p) && bytes.HasPrefix(p, b) {
			return true
		}
	}
	return false
}
