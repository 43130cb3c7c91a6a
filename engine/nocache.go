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

// platformFlags checks the --platform values, which replace the
// platforms of the targets built (compiler.Options.Platforms). A step for
// a platform this machine cannot run fails when realize reaches it, with
// what to install; a stage on build_platform (cross-compiling) needs
// nothing.
func (s *Session) platformFlags() ([]string, error) {
	seen := map[string]string{}
	for _, want := range s.opts.Platforms {
		p, err := platform.Parse(want)
		if err != nil {
			return nil, usageErrorf("--platform %s: %v", want, err)
		}
		key := platform.Format(platform.Normalize(p))
		if prev, ok := seen[key]; ok {
			return nil, usageErrorf("--platform %s: %s is already given as %s; name each platform once", want, key, prev)
		}
		seen[key] = want
	}
	return s.opts.Platforms, nil
}
