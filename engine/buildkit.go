package engine

import (
	"slices"
	"strings"

	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/realize/executor"
	"github.com/kiln-build/kiln/realize/executor/buildkit"
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
// local sandbox) or a pool of buildkitd daemons.
func (s *Session) executor(st *store.Store) executor.Executor {
	addrs := s.buildKitAddrs()
	if len(addrs) == 0 {
		return nil
	}
	var fallback executor.Executor
	if s.opts.BuildKitFallbackLocal {
		fallback = &sandbox.Executor{Root: realize.SandboxRoot(st)}
	}
	return buildkit.NewPool(addrs, s.opts.BuildKitTLSDir, fallback, func(msg string) { s.emit(Event{Kind: Warning, Message: msg}) })
}
