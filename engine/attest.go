package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kiln-build/kiln/attest"
	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/targets"
)

// evidence is what the attestations of this session's images say about
// the build: kiln's version and the build file and lock, by name (no
// folder: the evidence must not depend on where the checkout lives) and
// sha256.
func (s *Session) evidence(attestSpecs []string) (targets.Evidence, error) {
	ev := targets.Evidence{BuilderVersion: s.opts.BuilderVersion, Attest: attestSpecs}
	if ev.BuilderVersion == "" {
		ev.BuilderVersion = "devel"
	}
	var err error
	if ev.BuildFile, err = fileEvidence(s.LocalFile()); err != nil {
		return ev, err
	}
	ev.BuildFile.Name = filepath.Base(s.cfg.Filename)
	if ev.LockFile, err = fileEvidence(s.lockPath); errors.Is(err, fs.ErrNotExist) {
		ev.LockFile, err = attest.File{}, nil
	}
	return ev, err
}

// attests reports whether an export of graph's targets may attach
// attestations: the command line or an image block asks for some. The
// build file and lock are read and hashed only then.
func attests(graph *compiler.Graph, specs []string) bool {
	if len(specs) > 0 {
		return true
	}
	for _, t := range graph.Targets {
		if t.Export != nil && t.Export.Image != nil && len(t.Export.Image.Attest) > 0 {
			return true
		}
	}
	return false
}

func fileEvidence(path string) (attest.File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return attest.File{}, err
	}
	sum := sha256.Sum256(b)
	return attest.File{Name: filepath.Base(path), SHA256: hex.EncodeToString(sum[:])}, nil
}

// Attestation returns the in-toto statements of spec's type about the
// image target named target (its address or name), one per platform in
// platform order, as an export of it would attach them.
func (s *Session) Attestation(res *Result, target string, spec attest.Spec) ([][]byte, error) {
	var t *compiler.Target
	for _, c := range res.Graph.Targets {
		if c.Address == target || (c.Kind != "stage" && c.Name == target) {
			t = c
		}
	}
	if t == nil {
		return nil, usageErrorf("%s is not a target of this build", target)
	}
	if t.Kind != "image" {
		return nil, usageErrorf("%s is a %s: only images have attestations", t.Address, t.Kind)
	}
	b, err := s.exportBuild(res)
	if err != nil {
		return nil, err
	}
	if b.Evidence.BuilderVersion == "" {
		if b.Evidence, err = s.evidence(nil); err != nil {
			return nil, err
		}
	}
	o, err := export.ParseOutput("type=oci,dest=attestation")
	if err != nil {
		return nil, err
	}
	img, _, err := b.AssembleImage(t, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Address, err)
	}
	var out [][]byte
	for _, m := range img.Manifests {
		st, err := b.Statement(t, m, spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Address, err)
		}
		out = append(out, st)
	}
	return out, nil
}
