package export

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// registryExporter pushes to a registry.
type registryExporter struct{}

var _ ImageExporter = registryExporter{}

func (registryExporter) Type() string { return "registry" }

func (registryExporter) Keys() []string {
	return []string{"name", "push", "registry.insecure", "compression", "compression-level", "force-compression"}
}

func (registryExporter) Check(o *Output, _ func(string) bool) error { return needName(o) }

func (registryExporter) AssembleOptions(o Output) AssembleOptions {
	return AssembleOptions{Compression: o.LayerCompression()}
}

func (registryExporter) ExportImage(ctx context.Context, o Output, store BlobStore, img *Image, _ int64) error {
	return push(ctx, o, store, img)
}

// push writes img to every name of o, with credentials from the docker
// config (authn.DefaultKeychain). The bytes pushed are kiln's own
// documents, so the pushed digest is the exported one.
func push(ctx context.Context, o Output, store BlobStore, img *Image) error {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		// A registry that is down should fail the export in seconds.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 3}),
	}
	for _, n := range sortedUnique(o.Names) {
		ref, err := name.ParseReference(n, nopts...)
		if err != nil {
			return fmt.Errorf("image name %q: %w", n, err)
		}
		if img.Index != nil {
			err = remote.WriteIndex(ref, &remoteIndex{img: img, store: store}, ropts...)
		} else {
			var ri v1.Image
			ri, err = remoteImageOf(img.Manifests[0], store)
			if err == nil {
				err = remote.Write(ref, ri, ropts...)
			}
		}
		if err != nil {
			return fmt.Errorf("pushing %s: %w", n, err)
		}
	}
	return nil
}

// remoteCore presents one assembled manifest to go-containerregistry.
type remoteCore struct {
	m     Manifest
	store BlobStore
}

var _ partial.CompressedImageCore = (*remoteCore)(nil)

func remoteImageOf(m Manifest, store BlobStore) (v1.Image, error) {
	return partial.CompressedToImage(&remoteCore{m: m, store: store})
}

func (c *remoteCore) RawConfigFile() ([]byte, error) { return c.m.Config, nil }
func (c *remoteCore) MediaType() (types.MediaType, error) {
	return types.MediaType(c.m.Desc.MediaType), nil
}
func (c *remoteCore) RawManifest() ([]byte, error) { return c.m.Raw, nil }

func (c *remoteCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h.String() == c.m.ConfigDesc.Digest.String() {
		return &remoteBlob{desc: c.m.ConfigDesc, data: c.m.Config}, nil
	}
	for _, l := range c.m.Layers {
		if l.Digest.String() == h.String() {
			if u := c.m.unstored[l.Digest]; u != nil {
				return &remoteBlob{desc: l, unstored: u}, nil
			}
			return &remoteBlob{desc: l, path: c.store.BlobPath(l.Digest)}, nil
		}
	}
	return nil, fmt.Errorf("blob %s is not part of the image", h)
}

// remoteBlob is a layer blob in the store or written from its layer, or
// the config in memory.
type remoteBlob struct {
	desc     ocispec.Descriptor
	path     string
	unstored *unstoredBlob
	data     []byte
}

func (b *remoteBlob) Digest() (v1.Hash, error) { return v1.NewHash(b.desc.Digest.String()) }
func (b *remoteBlob) Size() (int64, error)     { return b.desc.Size, nil }
func (b *remoteBlob) MediaType() (types.MediaType, error) {
	return types.MediaType(b.desc.MediaType), nil
}

func (b *remoteBlob) Compressed() (io.ReadCloser, error) {
	if b.unstored != nil {
		return b.unstored.open()
	}
	if b.path == "" {
		return io.NopCloser(bytes.NewReader(b.data)), nil
	}
	return os.Open(b.path)
}

// remoteIndex presents an assembled multi-platform image.
type remoteIndex struct {
	img   *Image
	store BlobStore
}

var _ v1.ImageIndex = (*remoteIndex)(nil)

func (x *remoteIndex) MediaType() (types.MediaType, error) {
	return types.MediaType(x.img.Descriptor.MediaType), nil
}
func (x *remoteIndex) Digest() (v1.Hash, error)     { return v1.NewHash(x.img.Descriptor.Digest.String()) }
func (x *remoteIndex) Size() (int64, error)         { return x.img.Descriptor.Size, nil }
func (x *remoteIndex) RawManifest() ([]byte, error) { return x.img.Index, nil }
func (x *remoteIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.img.Index))
}

func (x *remoteIndex) Image(h v1.Hash) (v1.Image, error) {
	for _, m := range append(x.img.Manifests[:len(x.img.Manifests):len(x.img.Manifests)], x.img.Attestations...) {
		if m.Desc.Digest.String() == h.String() {
			return remoteImageOf(m, x.store)
		}
	}
	return nil, fmt.Errorf("manifest %s is not part of the index", h)
}

func (x *remoteIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("index %s has no nested indexes", h)
}
