package targets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/attest"
	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/realize/source"
	"github.com/kiln-build/kiln/store"
)

// Evidence is what the attestations of a build's images say about the
// build as a whole, and the attestations the command line asks for.
type Evidence struct {
	// BuilderVersion is kiln's version.
	BuilderVersion string
	// BuildFile and LockFile are the build definition's names and
	// sha256s (LockFile zero when there is none).
	BuildFile, LockFile attest.File
	// Attest are --attest specs; each replaces the image block's of its
	// type.
	Attest []string
}

// attestSpecs are the attestations image t gets: its block's attest
// with the command line's over them.
func (b Build) attestSpecs(t *compiler.Target) ([]attest.Spec, error) {
	over, err := attest.ParseSpecs(b.Evidence.Attest)
	if err != nil {
		return nil, &UsageError{err}
	}
	var base []attest.Spec
	if t.Export != nil && t.Export.Image != nil {
		if base, err = attest.ParseSpecs(t.Export.Image.Attest); err != nil {
			return nil, fmt.Errorf("%s: %w", t.Address, err)
		}
	}
	return attest.Merge(base, over), nil
}

// attach gives an assembled image its attestations, if it asks for any.
func (b Build) attach(t *compiler.Target, img *export.Image) error {
	specs, err := b.attestSpecs(t)
	if err != nil || len(specs) == 0 {
		return err
	}
	opts := export.AttachOptions{Referrers: slices.ContainsFunc(specs, func(s attest.Spec) bool { return s.Referrers })}
	return export.Attach(b.Store, img, func(m export.Manifest) ([]export.Statement, error) {
		ab, inImage, err := b.Collect(t, export.FormatPlatform(m.Platform))
		if err != nil {
			return nil, err
		}
		var out []export.Statement
		for _, s := range specs {
			data, err := statement(t, m, ab, inImage, s)
			if err != nil {
				return nil, err
			}
			pt := attest.PredicateSLSAProvenance
			if s.Type == attest.TypeSBOM {
				pt = attest.PredicateSPDX
			}
			out = append(out, export.Statement{PredicateType: pt, Data: data})
		}
		return out, nil
	}, opts)
}

// Statement returns the in-toto statement of spec's type about image
// manifest m of target t: the bytes attached to the image, and those a
// signer signs.
func (b Build) Statement(t *compiler.Target, m export.Manifest, spec attest.Spec) ([]byte, error) {
	ab, inImage, err := b.Collect(t, export.FormatPlatform(m.Platform))
	if err != nil {
		return nil, err
	}
	return statement(t, m, ab, inImage, spec)
}

// statement is Statement of what Collect gathered.
func statement(t *compiler.Target, m export.Manifest, ab *attest.Build, inImage func(string) bool, spec attest.Spec) ([]byte, error) {
	subj := []attest.Subject{{Name: t.Address, Digest: m.Desc.Digest.String()}}
	switch spec.Type {
	case attest.TypeProvenance:
		return attest.Provenance(subj, ab, spec.Mode)
	case attest.TypeSBOM:
		return attest.SBOM(subj, ab, inImage)
	}
	return nil, fmt.Errorf("unknown attestation type %q", spec.Type)
}

// Collect gathers what the evidence of target t on platform says: the
// state's sources (with the packages of deb sources and their copyright
// files), fixed-output steps (with the modules of their go.sum) and
// derivation graph, all out of the compiled graph and the store.
// inImage reports whether the source or step at an address is one the
// image's layers come from, not only something it was built with.
func (b Build) Collect(t *compiler.Target, platform string) (*attest.Build, func(string) bool, error) {
	var state digest.Digest
	for _, pl := range t.Platforms {
		p, err := export.ParsePlatform(pl)
		if err == nil && export.FormatPlatform(p) == platform {
			state = t.States[pl]
		}
	}
	if state == "" {
		return nil, nil, fmt.Errorf("%s has no state for platform %s", t.Address, platform)
	}
	ev := b.Evidence
	ab := &attest.Build{
		BuilderVersion: ev.BuilderVersion, Target: t.Address, Platform: platform,
		SourceDateEpoch: b.Epoch, BuildFile: ev.BuildFile, LockFile: ev.LockFile, State: state.String(),
	}
	closure := b.Graph.Closure(state)
	outs, err := b.Store.LookupMany(closure)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, d := range closure {
		n := b.Graph.Nodes[d]
		node := attest.Node{Digest: d.String(), Kind: string(n.Kind), Name: n.Name}
		for _, in := range n.Inputs {
			node.Inputs = append(node.Inputs, in.String())
		}
		ab.Graph = append(ab.Graph, node)
		switch {
		case n.Source != nil && !seen[n.Name]:
			seen[n.Name] = true
			s, err := b.collectSource(n, outs[d])
			if err != nil {
				return nil, nil, err
			}
			ab.Sources = append(ab.Sources, s)
		case n.Exec != nil && n.Exec.OutputHash != "" && !seen[n.LockAddress]:
			seen[n.LockAddress] = true
			mods, err := b.goModules(n, outs)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", n.LockAddress, err)
			}
			ab.FixedOutputs = append(ab.FixedOutputs, attest.FixedOutput{
				Address: n.LockAddress, Derivation: d.String(), OutputHash: n.Exec.OutputHash, GoModules: mods,
			})
		}
	}
	slices.SortFunc(ab.Sources, func(a, b attest.Source) int { return strings.Compare(a.Address, b.Address) })
	slices.SortFunc(ab.FixedOutputs, func(a, b attest.FixedOutput) int { return strings.Compare(a.Address, b.Address) })
	in := map[string]bool{}
	for _, d := range b.Graph.Chain(state) {
		n := b.Graph.Nodes[d]
		in[n.Name] = true
		if n.LockAddress != "" {
			in[n.LockAddress] = true
		}
	}
	return ab, func(addr string) bool { return in[addr] }, nil
}

// collectSource is one source as pinned; a deb source's packages come
// with the copyright files its layers hold.
func (b Build) collectSource(n *compiler.Derivation, out store.Output) (attest.Source, error) {
	op := n.Source
	s := attest.Source{Address: n.Name, Type: op.Type, Identifier: op.Identifier, Pin: op.Pin}
	if op.Type != "deb" {
		return s, nil
	}
	pkgs, err := source.ParseDebManifest(op.Attrs["packages"])
	if err != nil {
		return s, fmt.Errorf("%s: %w", n.Name, err)
	}
	for _, p := range pkgs {
		c, err := b.layerFile(out.Layers, "usr/share/doc/"+p.Name+"/copyright")
		if err != nil {
			return s, fmt.Errorf("%s: %w", n.Name, err)
		}
		s.Debs = append(s.Debs, attest.Deb{Name: p.Name, Version: p.Version, Architecture: p.Architecture, SHA256: p.SHA256, Copyright: c})
	}
	return s, nil
}

// goModules lists the modules of the go.sum in a fixed-output step's
// working directory, as its root state holds it (none without one).
func (b Build) goModules(n *compiler.Derivation, outs map[digest.Digest]store.Output) ([]attest.GoModule, error) {
	if n.Exec.Root < 0 {
		return nil, nil
	}
	root := n.Inputs[n.Exec.Root]
	out, ok := outs[root]
	if !ok {
		return nil, nil
	}
	sum, err := b.layerFile(out.Layers, path.Join(strings.TrimPrefix(path.Clean("/"+n.Exec.Cwd), "/"), "go.sum"))
	if err != nil || sum == nil {
		return nil, err
	}
	return attest.ParseGoSum(sum)
}

// maxEvidenceFile bounds a file read into the evidence.
const maxEvidenceFile = 4 << 20

// layerFile reads the regular file at rel (slash-separated, relative to
// the root) in the topmost of layers that has it, nil when none has it as
// a regular file. A symlink is not followed: it may lead out of the layer.
func (b Build) layerFile(layers []digest.Digest, rel string) ([]byte, error) {
	for i := len(layers) - 1; i >= 0; i-- {
		dir := b.Store.LayerPath(layers[i])
		p := filepath.Join(dir, filepath.FromSlash(rel))
		// Every parent must be a real directory, not a symlink.
		if !realDirs(dir, filepath.Dir(p)) {
			continue
		}
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(f, maxEvidenceFile+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", rel, err)
		}
		if len(data) > maxEvidenceFile {
			return nil, fmt.Errorf("%s is larger than %d bytes", rel, maxEvidenceFile)
		}
		return data, nil
	}
	return nil, nil
}

// realDirs reports whether every directory from below root down to dir
// exists and is not a symlink.
func realDirs(root, dir string) bool {
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return false
	}
	p := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "." {
			continue
		}
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// ManifestStatements are the statements attached to one image manifest.
type ManifestStatements struct {
	Digest     string
	Statements [][]byte
}

// AttachedStatements returns what an export of target t to o attaches,
// per image manifest in platform order: the statements a signer signs
// under each manifest's digest (their subject). None when t asks for no
// attestations.
func (b Build) AttachedStatements(t *compiler.Target, o export.Output) ([]ManifestStatements, error) {
	specs, err := b.attestSpecs(t)
	if err != nil || len(specs) == 0 {
		return nil, err
	}
	img, _, err := b.AssembleImage(t, o)
	if err != nil {
		return nil, err
	}
	var out []ManifestStatements
	for _, m := range img.Manifests {
		ab, inImage, err := b.Collect(t, export.FormatPlatform(m.Platform))
		if err != nil {
			return nil, err
		}
		ms := ManifestStatements{Digest: m.Desc.Digest.String()}
		for _, s := range specs {
			data, err := statement(t, m, ab, inImage, s)
			if err != nil {
				return nil, err
			}
			ms.Statements = append(ms.Statements, data)
		}
		out = append(out, ms)
	}
	return out, nil
}
