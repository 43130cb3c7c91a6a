package targets

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/compress"
	"github.com/kiln-build/kiln/realize"
)

// AssembleImage assembles an image target into the store as o would
// export it (the image block's compression applies unless o names one),
// writing no output: kiln golden records it from here. Its attestations
// (the block's attest and Evidence.Attest) are attached. It returns o with
// the compression that applied.
func (b Build) AssembleImage(t *compiler.Target, o export.Output) (*export.Image, export.Output, error) {
	var ic compiler.ImageConfig
	if t.Export != nil && t.Export.Image != nil {
		ic = *t.Export.Image
	}
	o, err := withCompression(o, t.Name, ic)
	if err != nil {
		return nil, o, err
	}
	in := &export.ImageInput{Spec: imageSpec(ic), SourceDateEpoch: b.Epoch}
	for _, pl := range t.Platforms {
		p, err := export.ParsePlatform(pl)
		if err != nil {
			return nil, o, err
		}
		state := t.States[pl]
		if state == "" {
			return nil, o, fmt.Errorf("image %s has no layers: its from is scratch with no steps", t.Name)
		}
		pi := export.PlatformInput{Platform: p}
		layers, base, err := b.layerHistory(state)
		if err != nil {
			return nil, o, err
		}
		pi.Layers = layers
		pi.BaseConfig = base
		if len(pi.Layers) == 0 {
			return nil, o, fmt.Errorf("image %s has no layers: give it a from with files", t.Name)
		}
		in.Platforms = append(in.Platforms, pi)
	}
	built, err := export.Assemble(b.Store, in, o.AssembleOptions())
	if err != nil {
		return nil, o, err
	}
	if err := b.attach(t, built); err != nil {
		return nil, o, fmt.Errorf("%s: %w", t.Address, err)
	}
	return built, o, nil
}

// withCompression gives o the image block's compression when o names
// none. Not through ParseOutput: a spec of just a compression lacks the
// dest or name every output needs.
func withCompression(o export.Output, image string, ic compiler.ImageConfig) (export.Output, error) {
	if o.CompressionSet || ic.Compression == "" {
		return o, nil
	}
	c, err := compress.ParseType(ic.Compression)
	if err != nil {
		return o, fmt.Errorf("image %s: %w", image, err)
	}
	if ic.CompressionLevel != 0 {
		if _, err := compress.Level(c, ic.CompressionLevel); err != nil {
			return o, fmt.Errorf("image %s: %w", image, err)
		}
	}
	o.Compression, o.CompressionLevel, o.CompressionSet = c, ic.CompressionLevel, true
	return o, nil
}

// imageSpec is the block's config as export applies it.
func imageSpec(ic compiler.ImageConfig) export.ImageSpec {
	return export.ImageSpec{
		Entrypoint: ic.Entrypoint, Cmd: ic.Cmd, Env: ic.Env, Workdir: ic.Workdir,
		User: ic.User, Labels: ic.Labels, Annotations: ic.Annotations,
		Expose: ic.Expose, Volumes: ic.Volumes, StopSignal: ic.StopSignal, Squash: ic.Squash,
		Healthcheck: healthcheck(ic.Healthcheck), Shell: ic.Shell, OnBuild: ic.OnBuild,
	}
}

// healthcheck is docker's form of the block's healthcheck: durations in
// nanoseconds.
func healthcheck(h *compiler.Healthcheck) *export.Healthcheck {
	if h == nil {
		return nil
	}
	return &export.Healthcheck{
		Test: h.Test, Interval: time.Duration(h.IntervalSec) * time.Second, Timeout: time.Duration(h.TimeoutSec) * time.Second,
		StartPeriod: time.Duration(h.StartPeriodSec) * time.Second, Retries: int(h.Retries),
	}
}

// layerHistory lists a state's layers with what built each one, walking the
// chain of steps down to its base. When the base is an image source, its
// config comes along so the image extends it as Docker does.
func (b Build) layerHistory(state digest.Digest) ([]export.LayerInput, []byte, error) {
	chain := b.Graph.Chain(state)
	outs, err := b.Store.LookupMany(chain)
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
		n := b.Graph.Nodes[chain[i]]
		out := outs[chain[i]]
		if i == len(chain)-1 && n.Kind == compiler.KindSource {
			if base, blobs, err = b.baseImage(n, out.Meta); err != nil {
				return nil, nil, err
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
		layers[i] = export.LayerInput{Layer: storeLayer{b.Store, l}, CreatedBy: createdBy[i]}
		if i >= len(blobs) {
			continue
		}
		// A base image layer ships as the base's own blob, never
		// recompressed: its bytes then do not depend on kiln's
		// compressor, and a registry that holds the base holds it.
		bl := blobs[i]
		if bl.Layer != l {
			return nil, nil, fmt.Errorf("layer %d of the state is %s, not the base image's %s", i, l, bl.Layer)
		}
		if ok, err := b.Store.HasBlob(bl.Blob.Digest); err != nil {
			return nil, nil, err
		} else if !ok {
			return nil, nil, fmt.Errorf("%s: the base image's layer blob %s is no longer in the store; build with a new store (--store DIR) to fetch the base again", b.Graph.Nodes[chain[len(chain)-1]].Name, bl.Blob.Digest)
		}
		desc := bl.Blob
		layers[i] = export.LayerInput{Layer: baseLayer{b.Store, bl.DiffID, bl.Blob.Digest}, Blob: &desc, CreatedBy: createdBy[i]}
	}
	return layers, base, nil
}

// baseImage reads what an image source recorded of its image: the config
// JSON and the blobs its layers came from.
func (b Build) baseImage(n *compiler.Derivation, meta map[string]string) ([]byte, []realize.ImageBlob, error) {
	var base []byte
	var blobs []realize.ImageBlob
	if c := meta[realize.MetaImageConfig]; c != "" {
		raw, err := os.ReadFile(b.Store.BlobPath(digest.Digest(c)))
		if err != nil {
			return nil, nil, fmt.Errorf("reading the base image config of %s (no longer in the store? build with a new one, --store DIR, to fetch the base again): %w", n.Name, err)
		}
		base = raw
	}
	if raw := meta[realize.MetaImageBlobs]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &blobs); err != nil {
			return nil, nil, fmt.Errorf("reading the base layer blobs of %s: %w", n.Name, err)
		}
	}
	return base, blobs, nil
}
