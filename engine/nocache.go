package engine

import (
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/platform"
	"github.com/kiln-build/kiln/lang"
)

// noCache is the set of derivations --no-cache and --no-cache-filter ask
// to build again, among those roots need. Sources are not in it: each is
// pinned by its content's hash (an image by digest, a file by sha256, a
// local folder by its contents), so fetching one again could only give
// the same bytes or fail, and would need the network for nothing.
func (s *Session) noCache(graph *compiler.Graph, roots []digest.Digest) (map[digest.Digest]bool, error) {
	if !s.opts.NoCache && len(s.opts.NoCacheFilter) == 0 {
		return nil, nil
	}
	var prefixes []string
	for _, f := range s.opts.NoCacheFilter {
		name := strings.TrimPrefix(f, "stage.")
		if !slices.ContainsFunc(s.cfg.Stages, func(st *lang.Stage) bool { return st.Name == name }) {
			var names []string
			for _, st := range s.cfg.Stages {
				names = append(names, st.Name)
			}
			return nil, usageErrorf("--no-cache-filter %s: %s has no stage %q (stages: %s)", f, s.cfg.Filename, name, strings.Join(names, ", "))
		}
		prefixes = append(prefixes, "stage."+name+"/")
	}
	out := map[digest.Digest]bool{}
	for _, d := range graph.Closure(roots...) {
		n := graph.Nodes[d]
		if n.Kind == compiler.KindSource {
			continue
		}
		if s.opts.NoCache || slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(n.Name, p) }) {
			out[d] = true
		}
	}
	return out, nil
}

// checkPlatforms accepts --platform values that name this machine's
// platform and narrows the targets to it. kiln builds for the machine it
// runs on only (it does not emulate), so another platform is a usage
// error until it can build several.
func (s *Session) checkPlatforms(graph *compiler.Graph) error {
	if len(s.opts.Platforms) == 0 {
		return nil
	}
	host := compiler.DefaultPlatform()
	hp, err := platform.Parse(host)
	if err != nil {
		return err
	}
	for _, want := range s.opts.Platforms {
		p, err := platform.Parse(want)
		if err != nil {
			return usageErrorf("--platform %s: %v", want, err)
		}
		if !platform.SameArch(p, hp) {
			return usageErrorf("--platform %s: kiln builds for the platform of the machine it runs on (%s) and does not emulate others yet; build %s on a %s machine", want, host, want, want)
		}
	}
	for _, t := range graph.Targets {
		var keep []string
		for _, pl := range t.Platforms {
			if p, err := platform.Parse(pl); err == nil && platform.SameArch(p, hp) {
				keep = append(keep, pl)
			}
		}
		if len(keep) == 0 {
			return usageErrorf("--platform %s: %s is built for %s only", strings.Join(s.opts.Platforms, ","), t.Address, strings.Join(t.Platforms, ", "))
		}
		for _, pl := range t.Platforms {
			if !slices.Contains(keep, pl) {
				delete(t.States, pl)
			}
		}
		t.Platforms = keep
	}
	return nil
}
