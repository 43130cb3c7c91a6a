package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/lockfile"
	"github.com/kiln-build/kiln/store"
)

// stepRequests is the store metadata namespace holding the request of each
// fixed-output step kiln locked or built, keyed by its step digest. The
// lock keeps only the digest; the request tells what changed when the pin
// goes stale.
const stepRequests = "lock-step"

// rememberSteps keeps in the store the request of every fixed-output step
// that lock pins for the current build file. It is a hint for explaining
// stale pins later, so a store that cannot keep it costs only that.
func (s *Session) rememberSteps(st *store.Store, lock *lockfile.Lock) {
	if st == nil || lock == nil || !locksSteps(lock) {
		return
	}
	for _, in := range lockfile.Inputs(s.cfg) {
		e := lock.Entries[in.Address]
		if in.Type != lockfile.TypeRun || !in.Matches(e) {
			continue
		}
		if _, ok, err := st.GetMeta(stepRequests, e.Step); err != nil || ok {
			continue
		}
		_ = st.PutMeta(stepRequests, e.Step, lockfile.StepRequest(in.Stage, in.Step))
	}
}

// locksSteps reports whether lock pins any fixed-output step: without
// one, a build need not list the build file's inputs to find them.
func locksSteps(lock *lockfile.Lock) bool {
	for _, e := range lock.Entries {
		if e.Type == lockfile.TypeRun {
			return true
		}
	}
	return false
}

// check is lockfile.Check with each stale fixed-output step explained.
// open gives the store that may know the locked steps; it is called only
// when a step is stale, so that a clean check opens nothing.
func (s *Session) check(open func() *store.Store) []lockfile.Change {
	changes := lockfile.Check(s.cfg, s.lock)
	for i, c := range changes {
		if c.Kind == lockfile.Stale && c.Input != nil && c.Input.Type == lockfile.TypeRun {
			changes[i].Why = s.whyStale(open(), c)
		}
	}
	return changes
}

// whyStale says what changed in a fixed-output step since it was locked:
// the difference from the request the store kept, or, when this store
// never saw the step as locked, what a stale step pin means.
func (s *Session) whyStale(st *store.Store, c lockfile.Change) []string {
	now := lockfile.StepRequest(c.Input.Stage, c.Input.Step)
	if st != nil {
		if was, ok, err := st.GetMeta(stepRequests, c.Old.Step); err == nil && ok {
			if why, err := lockfile.StepChanges(was, now); err == nil && len(why) > 0 {
				return why
			}
		}
	}
	return []string{"its command, env, workdir, user, network or mounts changed since it was locked (this store never saw the locked version, so kiln cannot say which)"}
}

// checkStale fails a build that needs an input whose lock entry is stale,
// saying what changed, where realizing would only call the input not
// pinned. Inputs with no entry at all are left to realize to report.
func (s *Session) checkStale(st *store.Store, graph *compiler.Graph, roots []digest.Digest) error {
	// Unresolved reaches every dependent, so roots tell whether anything
	// needed is unresolved; a build that is fine checks no further.
	if !slices.ContainsFunc(roots, func(d digest.Digest) bool { return graph.Nodes[d].Unresolved }) {
		return nil
	}
	byAddr := map[string]lockfile.Change{}
	anyStale := false
	for _, c := range s.check(func() *store.Store { return st }) {
		byAddr[c.Address] = c
		anyStale = anyStale || c.Kind == lockfile.Stale
	}
	if !anyStale {
		return nil
	}
	var lines []string
	stale := 0
	for _, d := range graph.Closure(roots...) {
		n := graph.Nodes[d]
		addr := n.LockAddress
		switch {
		case n.Kind == compiler.KindSource && n.Unresolved:
			addr = n.Name
		case n.Exec != nil && addr != "" && n.Exec.OutputHash == "":
			// A fixed-output step without its pin, at its lock address.
		default:
			continue
		}
		c, ok := byAddr[addr]
		if !ok || (c.Kind != lockfile.Stale && c.Kind != lockfile.Missing) {
			continue
		}
		delete(byAddr, addr)
		if c.Kind == lockfile.Stale {
			stale++
		}
		lines = append(lines, "  "+strings.ReplaceAll(c.String(), "\n", "\n  "))
	}
	if stale == 0 {
		return nil
	}
	return fmt.Errorf("%s has stale pins: %s changed these inputs since they were locked:\n%s\nrun 'kiln lock' to pin them again", s.lockPath, s.cfg.Filename, strings.Join(lines, "\n"))
}
