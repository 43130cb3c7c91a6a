package engine

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/realize/sandbox"
	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

// Show compiles what arg names and returns its derivations: for a digest
// (abbreviated to at least 4 hex digits), the one derivation of the
// default targets it starts; for a target, the state of each platform.
func (s *Session) Show(arg string) (*compiler.Graph, []digest.Digest, error) {
	if !LooksLikeDigest(arg) {
		graph, err := s.compile([]string{arg}, nil)
		if err != nil {
			return nil, nil, err
		}
		var show []digest.Digest
		for _, t := range graph.Targets {
			for _, pl := range t.Platforms {
				if st := t.States[pl]; st != "" {
					show = append(show, st)
				}
			}
		}
		return graph, show, nil
	}
	graph, err := s.compile(compiler.TargetNames(s.cfg), nil)
	if err != nil {
		return nil, nil, err
	}
	var show []digest.Digest
	want := strings.TrimPrefix(arg, "sha256:")
	for d := range graph.Nodes {
		if strings.HasPrefix(d.Encoded(), want) {
			show = append(show, d)
		}
	}
	if len(show) == 0 {
		return nil, nil, fmt.Errorf("no derivation %s in %s's targets: 'kiln plan' lists them", arg, s.cfg.Filename)
	}
	if len(show) > 1 {
		sort.Slice(show, func(i, j int) bool { return show[i] < show[j] })
		return nil, nil, usageErrorf("%s is ambiguous (%d derivations); give more digits", arg, len(show))
	}
	return graph, show, nil
}

// LooksLikeDigest reports whether s is a sha256 digest, whole or
// abbreviated to at least 4 hex digits, with or without "sha256:".
func LooksLikeDigest(s string) bool {
	h := strings.TrimPrefix(s, "sha256:")
	if len(h) < 4 || len(h) > 64 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// FindLog finds the one derivation with a build log in st whose digest
// starts with prefix.
func FindLog(st *store.Store, prefix string) (digest.Digest, error) {
	prefix = strings.TrimPrefix(prefix, "sha256:")
	if !LooksLikeDigest(prefix) {
		return "", usageErrorf("%q is not a digest (hex, at least 4 digits)", prefix)
	}
	// Any log path teaches the logs' folder and naming.
	dir, base := filepath.Split(st.LogPath(digest.FromString("")))
	ext := strings.TrimPrefix(base, digest.FromString("").Encoded())
	matches, err := filepath.Glob(filepath.Join(dir, prefix+"*"+ext))
	if err != nil {
		return "", err
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no build log for %s in this store: only exec steps built here have logs ('kiln plan' shows digests)", prefix)
	case 1:
		hex := strings.TrimSuffix(filepath.Base(matches[0]), ext)
		return digest.NewDigestFromEncoded(digest.SHA256, hex), nil
	}
	return "", usageErrorf("%s is ambiguous (%d logs); give more digits", prefix, len(matches))
}

// VerifyStore rehashes every object of st and checks the index against
// the disk; with repair it drops what is missing or corrupt. Layers are
// rehashed as kiln hashes them (the digest of their canonical tar).
func VerifyStore(st *store.Store, repair bool) (store.VerifyReport, error) {
	return st.Verify(repair, func(kind string, d digest.Digest, path string) (digest.Digest, error) {
		got, _, err := layer.Hash(path)
		return got, err
	})
}

// StaleSandboxes finds the cgroups that steps of killed kilns left (by the
// pid in their names, whatever store those kilns used). With repair it
// removes them, along with what killed sandboxes left in st, and says so
// with removed. Kiln removes both itself before it runs a step.
func StaleSandboxes(st *store.Store, repair bool) (cgroups []sandbox.StaleCgroup, removed bool, err error) {
	stale, err := sandbox.StaleCgroups()
	if err != nil {
		return nil, false, err
	}
	if !repair {
		return stale, false, nil
	}
	if err := sandbox.Cleanup(realize.SandboxRoot(st)); err != nil {
		return nil, false, err
	}
	if len(stale) == 0 {
		return nil, false, nil
	}
	swept, err := sandbox.SweepCgroups()
	return swept, true, err
}

// TargetNames lists what the build file can build, sorted: images,
// artifacts and groups by name, stages by address. Shell completion
// offers them.
func (s *Session) TargetNames() []string { return compiler.TargetNames(s.cfg) }
