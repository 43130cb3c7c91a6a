package engine

import (
	"errors"
	"slices"
	"strings"

	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/realize/executor"
	"github.com/kiln-build/kiln/realize/executor/bkhelper"
	"github.com/kiln-build/kiln/realize/sandbox"
	"github.com/kiln-build/kiln/store"
)

// buildKitAddrs are the daemons of --buildkit, then KILN_BUILDKIT_HOST
// (as BUILDKIT_HOST: one address), each once: kiln verify's rebuilds get
// the flags and inherit the variable, and one daemon named twice would
// be counted as two.
func (s *Session) buildKitAddrs() []string {
	addrs := append([]string(nil), s.opts.BuildKit...)
	for _, kv := range s.opts.Environ {
		if v, ok := strings.CutPrefix(kv, "KILN_BUILDKIT_HOST="); ok && v != "" {
			addrs = append(addrs, v)
		}
	}
	var out []string
	for _, a := range addrs {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// executor is what runs the build's exec steps: nil (the realizer's
// local sandbox) or a pool of buildkitd daemons, which lives in the
// kiln-buildkit helper (package bkhelper says why). The helper is found
// here, so that a kiln without it fails before any source is fetched; it
// starts at the first step that needs it.
func (s *Session) executor(st *store.Store) (executor.Executor, error) {
	addrs := s.buildKitAddrs()
	if len(addrs) == 0 {
		return nil, nil
	}
	c, err := s.buildKitHelper()
	if err != nil {
		return nil, err
	}
	c.Addrs, c.TLSDir = addrs, s.opts.BuildKitTLSDir
	if s.opts.BuildKitFallbackLocal {
		c.Fallback = &sandbox.Executor{Root: realize.SandboxRoot(st)}
	}
	c.Warn = func(msg string) { s.emit(Event{Kind: Warning, Message: msg}) }
	return c, nil
}

// buildKitHelper is a new client of the kiln-buildkit helper, which
// Close ends; a missing helper is a usage error (exit 2).
func (s *Session) buildKitHelper() (*bkhelper.Client, error) {
	path, err := bkhelper.Locate(s.opts.Environ)
	if err != nil {
		var me *bkhelper.MissingError
		if errors.As(err, &me) {
			return nil, &UsageError{Err: err}
		}
		return nil, err
	}
	c := &bkhelper.Client{Path: path}
	s.helpers = append(s.helpers, c)
	return c, nil
}

// closeHelpers ends the helpers the session started.
func (s *Session) closeHelpers() {
	for _, c := range s.helpers {
		c.Close()
	}
	s.helpers = nil
}
