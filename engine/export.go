package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/targets"
	"github.com/kiln-build/kiln/golden"
	"github.com/kiln-build/kiln/internal/atomicfile"
	"github.com/kiln-build/kiln/sign"
)

// ExportOptions say where a build's outputs go.
type ExportOptions struct {
	// Specs are --output specs, each for every target or, written
	// TARGET=SPEC, for the one named; a target no spec applies to gets
	// its declared outputs.
	Specs []string
	// Force replaces existing destinations.
	Force bool
	// Stdout receives outputs with dest=- (nil: os.Stdout).
	Stdout io.Writer
	// Attest are --attest specs (type=provenance[,mode=max],
	// type=sbom); each replaces an image block's attest of its type.
	Attest []string
	// Sign, when set, signs every image pushed to a registry with this
	// key, as cosign sign does (kiln build --sign key=FILE).
	Sign *sign.Key
}

// Export writes res's outputs, one Exported event each, as the session's
// export phase. It returns the metadata of every export by target address.
func (s *Session) Export(ctx context.Context, res *Result, o ExportOptions) (map[string]export.Metadata, error) {
	s.started(PhaseExport)
	defer s.finished(PhaseExport)
	stdout := o.Stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	req, err := s.exportRequest(res.Graph, o)
	if err != nil {
		return nil, err
	}
	req.Build.Store = res.Store
	req.Stdout = stdout
	var pushes []pushed
	req.Exported = func(t *compiler.Target, out export.Output) {
		s.emit(Event{Kind: Exported, Address: t.Address, Message: targets.Describe(out)})
		if out.Type == "registry" {
			pushes = append(pushes, pushed{t.Address, out})
		}
	}
	mds, err := targets.Export(ctx, req)
	if err == nil && o.Sign != nil {
		err = s.signPushes(ctx, req.Build, mds, pushes, o.Sign)
	}
	if def := s.Definition(); def != "" {
		// What was built, as the commit, not the branch that moves on.
		for _, md := range mds {
			md["kiln.definition"] = def
		}
	}
	return mds, exportError(err)
}

// pushed is one registry output a target was exported to.
type pushed struct {
	address string
	out     export.Output
}

// signPushes signs the image each push wrote, under each of its names.
// The digest signed is the one pushed, read from the export's metadata,
// not what a tag names by the time of signing. An image's attestations
// are signed too, as cosign attest does, each under the digest of the
// platform manifest it is about (its subject): the attestations sit in
// the index, which cannot name its own digest.
func (s *Session) signPushes(ctx context.Context, b targets.Build, mds map[string]export.Metadata, pushes []pushed, k *sign.Key) error {
	// A target's registry exports are listed in kiln.exports in the order
	// they were written, which is the order Exported heard of them.
	seen := map[string]int{}
	for _, p := range pushes {
		var regs []export.Metadata
		list, _ := mds[p.address]["kiln.exports"].([]export.Metadata)
		for _, m := range list {
			if m["type"] == "registry" {
				regs = append(regs, m)
			}
		}
		i := seen[p.address]
		seen[p.address]++
		if i >= len(regs) {
			return fmt.Errorf("%s: signing: the export's digest is missing from its metadata", p.address)
		}
		digest, _ := regs[i]["containerimage.digest"].(string)
		done := map[string]bool{}
		for _, n := range p.out.Names {
			res, err := sign.Image(ctx, n, k, sign.Options{Insecure: p.out.Insecure, Digest: digest})
			if err != nil {
				return fmt.Errorf("%s: signing %s: %w", p.address, n, err)
			}
			if done[res.Ref] {
				continue
			}
			done[res.Ref] = true
			s.emit(Event{Kind: Exported, Address: p.address, Message: "cosign signature " + res.Ref})
		}
		if err := s.signAttestations(ctx, b, p, k); err != nil {
			return err
		}
	}
	return nil
}

// signAttestations signs the in-toto statements push p attached, under
// each of its names.
func (s *Session) signAttestations(ctx context.Context, b targets.Build, p pushed, k *sign.Key) error {
	var t *compiler.Target
	for _, c := range b.Graph.Targets {
		if c.Address == p.address {
			t = c
		}
	}
	if t == nil || t.Kind != "image" {
		return nil
	}
	mss, err := b.AttachedStatements(t, p.out)
	if err != nil {
		return fmt.Errorf("%s: signing its attestations: %w", p.address, err)
	}
	for _, ms := range mss {
		done := map[string]bool{}
		for _, n := range p.out.Names {
			for _, st := range ms.Statements {
				res, err := sign.Attestation(ctx, n, st, k, sign.Options{Insecure: p.out.Insecure, Digest: ms.Digest})
				if err != nil {
					return fmt.Errorf("%s: signing an attestation of %s: %w", p.address, n, err)
				}
				if !done[res.Ref] {
					done[res.Ref] = true
					s.emit(Event{Kind: Exported, Address: p.address, Message: "cosign attestations " + res.Ref})
				}
			}
		}
	}
	return nil
}

// checkExports is CheckingExports' check.
func (s *Session) checkExports(graph *compiler.Graph, o ExportOptions) error {
	req, err := s.exportRequest(graph, o)
	if err != nil {
		return err
	}
	if err := targets.Check(req); err != nil {
		return exportError(err)
	}
	if o.Sign != nil {
		push, err := targets.Pushes(req)
		if err != nil {
			return exportError(err)
		}
		if !push {
			return &UsageError{Err: errors.New("--sign signs images pushed to a registry, and no output of this build pushes one (add -o type=registry,name=REF)")}
		}
	}
	return nil
}

func (s *Session) exportRequest(graph *compiler.Graph, o ExportOptions) (targets.Request, error) {
	ev := targets.Evidence{Attest: o.Attest}
	if attests(graph, o.Attest) {
		var err error
		if ev, err = s.evidence(o.Attest); err != nil {
			return targets.Request{}, err
		}
	}
	return targets.Request{
		Build: targets.Build{Graph: graph, Epoch: s.epoch, Evidence: ev}, Specs: o.Specs, Dir: s.cfg.Dir, Force: o.Force,
	}, nil
}

// exportError makes the request's mistakes usage errors (exit code 2).
func exportError(err error) error {
	var ue *targets.UsageError
	if errors.As(err, &ue) {
		return &UsageError{Err: ue.Err}
	}
	return err
}

// WritesStdout reports whether any output of res, given in specs or
// declared, writes to standard output (type=tar,dest=-).
func WritesStdout(res *Result, specs []string) bool {
	return targets.WritesStdout(res.Graph.Targets, specs)
}

// WriteMetadata writes the metadata of exports to file as
// --metadata-file holds it (BuildKit's keys).
func WriteMetadata(file string, all map[string]export.Metadata) error {
	b, err := targets.MetadataJSON(all)
	if err != nil {
		return err
	}
	return atomicfile.Replace(file, b)
}

// exportBuild is res for export with the evidence of the block's
// attestations only (golden records images as their blocks declare them).
func (s *Session) exportBuild(res *Result) (targets.Build, error) {
	b := targets.Build{Store: res.Store, Graph: res.Graph, Epoch: s.epoch}
	if attests(res.Graph, nil) {
		var err error
		b.Evidence, err = s.evidence(nil)
		return b, err
	}
	return b, nil
}

// Record records the targets' output identities without writing any
// output: images are assembled into the store as kiln build would export
// them, artifacts' tars are hashed as they stream. withFiles says which
// artifacts get per-file digests (nil: none). It is the Recorder the
// golden commands use when given none.
func (s *Session) Record(ctx context.Context, res *Result, withFiles func(string) bool) (*golden.File, error) {
	b, err := s.exportBuild(res)
	if err != nil {
		return nil, err
	}
	gf := golden.New()
	for _, t := range res.Graph.Targets {
		gt := &golden.Target{Kind: t.Kind, Name: t.Name}
		var err error
		switch t.Kind {
		case "image":
			err = recordImage(b, t, gt)
		case "artifact":
			err = recordArtifact(ctx, b, t, gt, withFiles != nil && withFiles(t.Address))
		default:
			return nil, usageErrorf("%s is a %s: golden records images and artifacts", t.Address, t.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Address, err)
		}
		gf.Put(gt)
	}
	return gf, nil
}

// recordImage records an image as an OCI layout would get it.
func recordImage(b targets.Build, t *compiler.Target, gt *golden.Target) error {
	o, err := export.ParseOutput("type=oci,dest=golden")
	if err != nil {
		return err
	}
	built, o, err := b.AssembleImage(t, o)
	if err != nil {
		return err
	}
	return golden.RecordImage(gt, built, golden.CompressionName(o.LayerCompression()))
}

// recordArtifact hashes an artifact's tar as -o type=tar streams it, and
// checks the sum against what the exporter reports.
func recordArtifact(ctx context.Context, b targets.Build, t *compiler.Target, gt *golden.Target, files bool) error {
	o, err := export.ParseOutput("type=tar,dest=-")
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var md export.Metadata
	go func() {
		var err error
		md, err = b.ExportFiles(ctx, t, o, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	sum, fileSums, err := golden.RecordTar(pr, files)
	pr.CloseWithError(errors.New("stopped reading"))
	if xerr := <-done; xerr != nil {
		return xerr
	}
	if err != nil {
		return err
	}
	if want, ok := md["artifact.tar.sha256"].(string); ok && want != sum {
		return fmt.Errorf("the tar hashed to %s but the exporter reports %s", sum, want)
	}
	gt.SHA256, gt.Files = sum, fileSums
	return nil
}
