package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/compress"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

// storeLayer is a store layer as the exporters see it: its diff_id and its
// canonical tar, written on demand.
type storeLayer struct {
	st *store.Store
	d  digest.Digest
}

var _ export.Layer = storeLayer{}

func (l storeLayer) DiffID() digest.Digest { return l.d }
func (l storeLayer) Size() int64           { return -1 }
func (l storeLayer) Open() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(layer.WriteTar(pw, l.st.LayerPath(l.d))) }()
	return pr, nil
}

// baseLayer is a base image's layer as the image ships it: its diff_id is
// the image's own and its tar is the original blob, decompressed. So the
// base config's diff_ids hold even when kiln's canonical tar of the same
// files differs, and force-compression recompresses the base's own bytes.
type baseLayer struct {
	st     *store.Store
	diffID digest.Digest
	blob   digest.Digest
}

var _ export.Layer = baseLayer{}

func (l baseLayer) DiffID() digest.Digest { return l.diffID }
func (l baseLayer) Size() int64           { return -1 }
func (l baseLayer) Open() (io.ReadCloser, error) {
	f, err := os.Open(l.st.BlobPath(l.blob))
	if err != nil {
		return nil, fmt.Errorf("opening base layer blob: %w", err)
	}
	dr, err := layer.Decompress(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{dr, closers{dr, f}}, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// exportTargets writes each target's outputs: the --output specs when
// given (one target only), else those declared in its block. It returns the
// metadata of every export, by target address.
func exportTargets(ctx context.Context, res *buildResult, specs []string, force bool) (map[string]export.Metadata, error) {
	if len(specs) > 0 && len(res.graph.Targets) > 1 {
		return nil, usageErrorf("--output applies to one target; %d were given (declare outputs in their blocks instead)", len(res.graph.Targets))
	}
	all := map[string]export.Metadata{}
	for _, t := range res.graph.Targets {
		img, art := findBlocks(res.proj.cfg, t)
		declared := specs
		if len(declared) == 0 {
			switch {
			case img != nil:
				declared = img.Outputs
			case art != nil:
				declared = art.Outputs
			}
		}
		md := export.Metadata{}
		for _, spec := range declared {
			o, err := export.ParseOutput(spec)
			if err != nil {
				return nil, &exitError{code: 2, err: err}
			}
			if force {
				o.Force = true
			}
			if o.Dest != "" && o.Dest != "-" && !path.IsAbs(o.Dest) && len(specs) == 0 {
				// Outputs declared in build.hcl are relative to its folder.
				o.Dest = res.proj.cfg.Dir + "/" + o.Dest
			}
			var m export.Metadata
			switch o.Type {
			case "oci", "docker", "registry":
				if t.Kind != "image" {
					return nil, usageErrorf("%s is not an image: export it with type=local or type=tar", t.Address)
				}
				m, err = exportImage(ctx, res, t, img, o)
			default:
				m, err = exportFiles(ctx, res, t, art, o)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.Address, err)
			}
			for k, v := range m {
				md[k] = v
			}
			fmt.Fprintf(os.Stderr, "exported %s to %s\n", t.Address, describeOutput(o))
		}
		md["kiln.source_date_epoch"] = res.proj.epoch
		all[t.Address] = md
	}
	return all, nil
}

// writesStdout reports whether any output of the build, given or declared,
// writes to standard output (type=tar,dest=-).
func writesStdout(res *buildResult, specs []string) bool {
	for _, t := range res.graph.Targets {
		declared := specs
		if len(declared) == 0 {
			if img, art := findBlocks(res.proj.cfg, t); img != nil {
				declared = img.Outputs
			} else if art != nil {
				declared = art.Outputs
			}
		}
		for _, spec := range declared {
			if o, err := export.ParseOutput(spec); err == nil && o.Dest == "-" {
				return true
			}
		}
	}
	return false
}

func describeOutput(o export.Output) string {
	if o.Dest != "" {
		return "type=" + o.Type + " " + o.Dest
	}
	return "type=" + o.Type + " " + strings.Join(o.Names, ",")
}

func findBlocks(cfg *lang.Config, t *compiler.Target) (*lang.Image, *lang.Artifact) {
	for _, i := range cfg.Images {
		if t.Kind == "image" && i.Name == t.Name {
			return i, nil
		}
	}
	for _, a := range cfg.Artifacts {
		if t.Kind == "artifact" && a.Name == t.Name {
			return nil, a
		}
	}
	return nil, nil
}

func exportImage(ctx context.Context, res *buildResult, t *compiler.Target, img *lang.Image, o export.Output) (export.Metadata, error) {
	built, o, err := assembleImage(res, t, img, o)
	if err != nil {
		return nil, err
	}
	return export.ExportImage(ctx, o, res.st, built, res.proj.epoch)
}

// assembleImage assembles a target's image into the store as o would
// export it (the image block's compression applies unless o names one),
// writing no output: kiln golden records it from here.
func assembleImage(res *buildResult, t *compiler.Target, img *lang.Image, o export.Output) (*export.Image, export.Output, error) {
	if !o.CompressionSet && img.Compression != "" {
		// Not through ParseOutput: a spec of just a compression lacks the
		// dest or name every output needs.
		c, err := compress.ParseType(img.Compression)
		if err != nil {
			return nil, o, fmt.Errorf("image %s: %w", img.Name, err)
		}
		level := 0
		if img.CompressionLevel != nil {
			level = *img.CompressionLevel
			if _, err := compress.Level(c, level); err != nil {
				return nil, o, fmt.Errorf("image %s: %w", img.Name, err)
			}
		}
		o.Compression, o.CompressionLevel, o.CompressionSet = c, level, true
	}
	in := &export.ImageInput{Spec: export.SpecFromLang(img), SourceDateEpoch: res.proj.epoch}
	for _, pl := range t.Platforms {
		p, err := export.ParsePlatform(pl)
		if err != nil {
			return nil, o, err
		}
		state := t.States[pl]
		if state == "" {
			return nil, o, fmt.Errorf("image %s has no layers: its from is scratch with no steps", img.Name)
		}
		pi := export.PlatformInput{Platform: p}
		layers, base, err := layerHistory(res, state)
		if err != nil {
			return nil, o, err
		}
		pi.Layers = layers
		pi.BaseConfig = base
		if len(pi.Layers) == 0 {
			return nil, o, fmt.Errorf("image %s has no layers: give it a from with files", img.Name)
		}
		in.Platforms = append(in.Platforms, pi)
	}
	built, err := export.Assemble(res.st, in, o.AssembleOptions())
	return built, o, err
}

// layerHistory lists a state's layers with what built each one, walking the
// chain of steps down to its base. When the base is an image source, its
// config comes along so the image extends it as Docker does.
func layerHistory(res *buildResult, state digest.Digest) ([]export.LayerInput, []byte, error) {
	var chain []digest.Digest
	for d := state; d != ""; {
		chain = append(chain, d)
		n := res.graph.Nodes[d]
		root := -1
		switch {
		case n.Exec != nil:
			root = n.Exec.Root
		case n.File != nil:
			root = n.File.Base
		}
		if root < 0 {
			break
		}
		d = n.Inputs[root]
	}
	outs, err := res.st.LookupMany(chain)
	if err != nil {
		return nil, nil, err
	}
	top, ok := outs[state]
	if !ok {
		return nil, nil, fmt.Errorf("state %s is not in the store", state)
	}
	createdBy := make(map[int]string)
	var base []byte
	var blobs []realize.ImageBlob
	for i := len(chain) - 1; i >= 0; i-- {
		n := res.graph.Nodes[chain[i]]
		out := outs[chain[i]]
		if i == len(chain)-1 && n.Kind == compiler.KindSource {
			if c := out.Meta[realize.MetaImageConfig]; c != "" {
				b, err := os.ReadFile(res.st.BlobPath(digest.Digest(c)))
				if err != nil {
					return nil, nil, fmt.Errorf("reading the base image config of %s (no longer in the store? build with a new one, --store DIR, to fetch the base again): %w", n.Name, err)
				}
				base = b
			}
			if raw := out.Meta[realize.MetaImageBlobs]; raw != "" {
				if err := json.Unmarshal([]byte(raw), &blobs); err != nil {
					return nil, nil, fmt.Errorf("reading the base layer blobs of %s: %w", n.Name, err)
				}
			}
		}
		for j := range out.Layers {
			if _, ok := createdBy[j]; !ok {
				createdBy[j] = "kiln: " + n.Name + ": " + n.Description
			}
		}
	}
	layers := make([]export.LayerInput, len(top.Layers))
	for i, l := range top.Layers {
		layers[i] = export.LayerInput{Layer: storeLayer{res.st, l}, CreatedBy: createdBy[i]}
		if i >= len(blobs) {
			continue
		}
		// A base image layer ships as the base's own blob, never
		// recompressed: its bytes then do not depend on kiln's
		// compressor, and a registry that holds the base holds it.
		b := blobs[i]
		if b.Layer != l {
			return nil, nil, fmt.Errorf("layer %d of the state is %s, not the base image's %s", i, l, b.Layer)
		}
		if ok, err := res.st.HasBlob(b.Blob.Digest); err != nil {
			return nil, nil, err
		} else if !ok {
			return nil, nil, fmt.Errorf("%s: the base image's layer blob %s is no longer in the store; build with a new store (--store DIR) to fetch the base again", res.graph.Nodes[chain[len(chain)-1]].Name, b.Blob.Digest)
		}
		desc := b.Blob
		layers[i] = export.LayerInput{Layer: baseLayer{res.st, b.DiffID, b.Blob.Digest}, Blob: &desc, CreatedBy: createdBy[i]}
	}
	return layers, base, nil
}

func exportFiles(ctx context.Context, res *buildResult, t *compiler.Target, art *lang.Artifact, o export.Output) (export.Metadata, error) {
	return exportFilesTo(ctx, res, t, art, o, os.Stdout)
}

// exportFilesTo is exportFiles with dest=- written to stdout: kiln golden
// hashes the tar without writing it anywhere.
func exportFilesTo(ctx context.Context, res *buildResult, t *compiler.Target, art *lang.Artifact, o export.Output, stdout io.Writer) (export.Metadata, error) {
	var files []export.Files
	for _, pl := range t.Platforms {
		p, err := export.ParsePlatform(pl)
		if err != nil {
			return nil, err
		}
		var layers []export.Layer
		if s := t.States[pl]; s != "" {
			outs, err := res.st.LookupMany([]digest.Digest{s})
			if err != nil {
				return nil, err
			}
			for _, l := range outs[s].Layers {
				layers = append(layers, storeLayer{res.st, l})
			}
		}
		var paths []string
		if art != nil {
			paths = art.Paths
		}
		files = append(files, export.Files{Platform: p, Open: func() (io.ReadCloser, error) {
			return stateFiles(layers, paths)
		}})
	}
	return export.ExportFiles(ctx, o, files, stdout, res.proj.epoch)
}

// stateFiles is the merged tar of a state's layers, limited to paths (all
// when empty). Whiteouts are applied, so the stream is the state's files.
func stateFiles(layers []export.Layer, paths []string) (io.ReadCloser, error) {
	if len(layers) == 0 {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(tar.NewWriter(pw).Close()) }()
		return pr, nil
	}
	sq, err := export.Squash(layers)
	if err != nil {
		return nil, err
	}
	rc, err := sq.Open()
	if err != nil || len(paths) == 0 {
		return rc, err
	}
	keep := func(name string) bool {
		name = strings.TrimSuffix(name, "/")
		for _, p := range paths {
			p = strings.Trim(path.Clean("/"+p), "/")
			if p == "" || name == p || strings.HasPrefix(name, p+"/") || strings.HasPrefix(p, name+"/") {
				return true
			}
		}
		return false
	}
	pr, pw := io.Pipe()
	go func() {
		defer rc.Close()
		tr, tw := tar.NewReader(rc), tar.NewWriter(pw)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				pw.CloseWithError(tw.Close())
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if !keep(h.Name) {
				continue
			}
			if err := tw.WriteHeader(h); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr, nil
}

// writeMetadata writes --metadata-file: BuildKit's keys, flat for one
// target, by target address for several.
func writeMetadata(file string, all map[string]export.Metadata) error {
	var v any = all
	if len(all) == 1 {
		for _, m := range all {
			v = m
		}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(file, append(b, '\n'))
}
