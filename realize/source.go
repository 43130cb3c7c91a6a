package realize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/infolder"
	"github.com/kiln-build/kiln/realize/source"
	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

// buildFolderPath resolves a local or oci-layout source's path inside the
// build folder. The build file was checked when it was loaded, but the
// folder may have changed since: a symlink swapped in must not make the
// build read the host.
func (r *Realizer) buildFolderPath(rel string) (string, error) {
	p, err := infolder.Join(r.opts.Dir, filepath.FromSlash(rel))
	if err != nil {
		return "", fmt.Errorf("source path %q leads outside the build folder %s (%v); only the build folder and its sub-folders can be sources", rel, r.opts.Dir, err)
	}
	return p, nil
}

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

func (r *Realizer) fetchSource(ctx context.Context, d *compiler.Derivation) (store.Output, error) {
	op := d.Source
	switch op.Type {
	case "image", "oci-layout":
		return r.imageSource(ctx, d)
	}
	tree, err := r.newTree()
	if err != nil {
		return store.Output{}, err
	}
	defer os.RemoveAll(tree) // a no-op once the tree became a layer
	switch op.Type {
	case "local":
		dir, err := r.buildFolderPath(op.Identifier)
		if err != nil {
			return store.Output{}, err
		}
		h, err := source.CopyLocal(dir, splitLines(op.Attrs["include"]), splitLines(op.Attrs["exclude"]), tree, d.SourceDateEpoch)
		if err != nil {
			return store.Output{}, err
		}
		if h != op.Pin {
			return store.Output{}, fmt.Errorf("local source %s changed while kiln was building (hashed %s, copied %s); run the build again", op.Identifier, op.Pin, h)
		}
	case "http":
		mode, err := strconv.ParseUint(op.Attrs["mode"], 8, 32)
		if err != nil {
			return store.Output{}, fmt.Errorf("bad mode %q", op.Attrs["mode"])
		}
		if err := source.FetchHTTP(ctx, op.Identifier, op.Pin, op.Attrs["filename"], uint32(mode), tree, op.MaxSize); err != nil {
			return store.Output{}, err
		}
	case "git":
		if err := source.FetchGit(ctx, op.Identifier, op.Pin, op.Attrs["keep_git_dir"] == "true", tree, op.MaxSize); err != nil {
			return store.Output{}, err
		}
	case "deb":
		if err := r.debSource(ctx, op, tree); err != nil {
			return store.Output{}, err
		}
	default:
		return store.Output{}, fmt.Errorf("kiln cannot fetch source type %q", op.Type)
	}
	l, err := r.addTree(tree, d.SourceDateEpoch)
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

func (r *Realizer) imageSource(ctx context.Context, d *compiler.Derivation) (store.Output, error) {
	op := d.Source
	var dirs []string
	defer func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}()
	newDir := func() (string, error) {
		d, err := r.newTree()
		dirs = append(dirs, d)
		return d, err
	}
	var img *source.Image
	var err error
	if op.Type == "image" {
		img, err = source.FetchImage(ctx, op.Identifier, op.Pin, d.Platform, r.insecure(op.Identifier), op.MaxSize, newDir)
	} else {
		var dir string
		if dir, err = r.buildFolderPath(op.Identifier); err == nil {
			img, err = source.FetchOCILayout(ctx, dir, op.Attrs["ref"], op.Pin, d.Platform, op.MaxSize, newDir)
		}
	}
	if err != nil {
		return store.Output{}, err
	}
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

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
