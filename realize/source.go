package realize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize/source"
	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

// Output metadata keys of image sources: exporters extend the base image's
// config as Docker does.
const (
	MetaImageConfig   = "image.config"
	MetaImageManifest = "image.manifest"
	// MetaImageBlobs is a JSON list of ImageBlob, one per layer, bottom
	// first: exporters reuse the original blobs instead of recompressing.
	MetaImageBlobs = "image.blobs"
)

// ImageBlob ties one layer of an image source to its original compressed
// blob, kept in the store.
type ImageBlob struct {
	// Layer is the layer's digest in kiln (the state's layer list).
	Layer digest.Digest `json:"layer"`
	// DiffID is the diff_id the image's config records for it.
	DiffID digest.Digest `json:"diffID"`
	// Blob is the descriptor from the image's manifest.
	Blob ocispec.Descriptor `json:"blob"`
}

func (r *Realizer) source(ctx context.Context, dg digest.Digest, d *compiler.Derivation) (store.Output, error) {
	out, err := r.fetchSource(ctx, d)
	var sle *source.SizeLimitError
	switch {
	case errors.As(err, &sle):
		// The limit's own message says what to change; the layers of
		// wrapping around it (entry, layer, blob) would only bury it.
		err = sle
	case err != nil && source.IsPinError(err):
		// The source's own message cannot name the lock entry; d.Name is
		// the source's address, which is the entry's.
		err = fmt.Errorf("%w\nThe pin comes from the lock (build.lock.hcl, entry %s); if the source changed on purpose, run 'kiln lock --update %s' to pin what it holds now", err, d.Name, d.Name)
	}
	return out, err
}

// fetchSource fetches d's source with the fetcher of its kind and adds
// what it fetched to the store.
func (r *Realizer) fetchSource(ctx context.Context, d *compiler.Derivation) (store.Output, error) {
	op := d.Source
	f, ok := source.Lookup(op.Type)
	if !ok {
		return store.Output{}, fmt.Errorf("kiln cannot fetch source type %q", op.Type)
	}
	// Every directory made for the fetch goes, except those the store
	// adopted as layers (removing those is a no-op).
	var mu sync.Mutex
	var dirs []string
	defer func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}()
	newDir := func() (string, error) {
		d, err := r.newTree()
		mu.Lock()
		dirs = append(dirs, d)
		mu.Unlock()
		return d, err
	}
	got, err := f.Fetch(ctx, &source.Request{
		Identifier: op.Identifier,
		Pin:        op.Pin,
		Attrs:      op.Attrs,
		Mirror:     op.Mirror,
		Mirrors:    op.Mirrors,
		MaxSize:    op.MaxSize,
		Platform:   d.Platform,
		Epoch:      d.SourceDateEpoch,
		Folder:     r.opts.Dir,
		NewDir:     newDir,
		Insecure:   r.insecure,
		Debs:       storeDebCache{r.st},
	})
	if err != nil {
		return store.Output{}, err
	}
	if got.Image != nil {
		return r.addImage(got.Image)
	}
	l, err := r.addTree(got.Tree, d.SourceDateEpoch)
	if err != nil {
		return store.Output{}, err
	}
	return store.Output{Layers: l}, nil
}

// newTree is a fresh directory that can become a layer: the store adopts
// only directories it made itself, on its own filesystem.
func (r *Realizer) newTree() (string, error) {
	return r.st.TempDir("layer-")
}

// addTree normalizes a finished tree and adds it to the store as a layer.
// An empty tree adds nothing: it would change no file.
func (r *Realizer) addTree(tree string, epoch int64) ([]digest.Digest, error) {
	ents, err := os.ReadDir(tree)
	if err != nil {
		return nil, err
	}
	if len(ents) == 0 {
		return nil, nil
	}
	if err := layer.Normalize(tree, epoch); err != nil {
		return nil, err
	}
	return r.addLayer(tree)
}

func (r *Realizer) addLayer(tree string) ([]digest.Digest, error) {
	dg, size, err := layer.Hash(tree)
	if err != nil {
		return nil, err
	}
	if err := r.st.AddLayer(tree, dg, store.LayerInfo{Size: size}); err != nil {
		return nil, err
	}
	return []digest.Digest{dg}, nil
}

// addImage adds an image's layers to the store, and its config and
// original layer blobs for exports to reuse.
func (r *Realizer) addImage(img *source.Image) (store.Output, error) {
	var out store.Output
	var blobs []ImageBlob
	for _, l := range img.Layers {
		if err := r.st.AddLayer(l.Dir, l.DiffID, store.LayerInfo{Size: l.Size}); err != nil {
			return store.Output{}, err
		}
		out.Layers = append(out.Layers, l.DiffID)
		// The original compressed blob goes into the store as it is:
		// exports reuse these bytes, never recompressing a base layer.
		f, err := os.Open(l.BlobFile)
		if err != nil {
			return store.Output{}, fmt.Errorf("keeping layer blob %s: %w", l.Blob.Digest, err)
		}
		_, _, err = r.st.AddBlob(f, l.Blob.Digest)
		f.Close()
		if err != nil {
			return store.Output{}, fmt.Errorf("keeping layer blob %s: %w", l.Blob.Digest, err)
		}
		blobs = append(blobs, ImageBlob{Layer: l.DiffID, DiffID: l.ImageDiffID, Blob: l.Blob})
	}
	cfg, _, err := r.st.AddBlob(bytes.NewReader(img.Config), "")
	if err != nil {
		return store.Output{}, err
	}
	rawBlobs, err := json.Marshal(blobs)
	if err != nil {
		return store.Output{}, err
	}
	out.Meta = map[string]string{MetaImageConfig: string(cfg), MetaImageManifest: string(img.ManifestDigest), MetaImageBlobs: string(rawBlobs)}
	// The config and the original layer blobs are what an export of an
	// image built on this one reuses: naming them keeps them from GC.
	out.Blobs = append(out.Blobs, cfg)
	for _, b := range blobs {
		out.Blobs = append(out.Blobs, b.Blob.Digest)
	}
	return out, nil
}

// insecure allows plain http for loopback registries (tests, local mirrors)
// and those the user names.
func (r *Realizer) insecure(ref string) bool {
	rf, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	host := rf.Context().RegistryStr()
	for _, h := range r.opts.InsecureRegistries {
		if h == host {
			return true
		}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
