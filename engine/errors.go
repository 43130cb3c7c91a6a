package engine

import (
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// UsageError is a request the command line or the caller got wrong: an
// unknown target, a malformed option. cmd/kiln exits 2 on it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// DiagError is a build file that does not load or compile. Its
// diagnostics were delivered to the session's events when they arose;
// the error carries them too for callers without a sink.
type DiagError struct {
	Diags hcl.Diagnostics
	Files map[string]*hcl.File
	// Usage is set when every error is about a target the caller named
	// that the build file does not have.
	Usage bool
}

func (e *DiagError) Error() string { return e.Diags.Error() }

// ErrInterrupted is returned when the context was canceled while steps
// ran: they were stopped and nothing half-built was kept.
var ErrInterrupted = errors.New("interrupted: running steps were stopped and nothing half-built was kept")

// diagError delivers diags as an event and returns them as an error.
func (s *Session) diagError(diags hcl.Diagnostics, usage bool) error {
	files := s.Files()
	s.emit(Event{Kind: Diagnostics, Diags: diags, Files: files})
	return &DiagError{Diags: diags, Files: files, Usage: usage}
}
