package export

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/export/compress"
	"github.com/kiln-build/kiln/internal/jsondoc"
)

// Layer is one uncompressed layer: its diff_id and a way to stream its
// canonical tar.
type Layer interface {
	DiffID() digest.Digest
	Size() int64
	Open() (io.ReadCloser, error)
}

// FileLayer is a Layer that can write its tar into a file itself and
// tell its size without writing it, as the store's layers can. Exported
// uncompressed, such a layer is not copied into the BlobStore first: its
// tar is written straight into each output that needs it, the file
// contents copied by the kernel, and checked against its diff_id on the
// way.
type FileLayer interface {
	Layer
	// TarSize is the tar's size in bytes, from a walk of the tree.
	TarSize() (int64, error)
	// WriteTarFile writes the tar into the new file f and returns its
	// sha256 and size.
	WriteTarFile(f *os.File) (digest.Digest, int64, error)
}

// BlobStore is where compressed blobs are cached by content, so a second
// export compresses nothing. The store implements it. AddBlob takes an
// empty expected digest when the digest is not known in advance.
type BlobStore interface {
	// GetMeta and PutMeta hold small records; export keeps, under
	// namespace MetaNamespace, diffID+compression+level+format version ->
	// blob descriptor.
	GetMeta(ns, key string) ([]byte, bool, error)
	PutMeta(ns, key string, val []byte) error
	HasBlob(d digest.Digest) (bool, error)
	BlobPath(d digest.Digest) string
	AddBlob(r io.Reader, expected digest.Digest) (digest.Digest, int64, error)
}

// MetaNamespace is the BlobStore metadata namespace export writes.
const MetaNamespace = "export.blob"

// LayerInput is one layer of an image, bottom first.
type LayerInput struct {
	Layer Layer
	// Blob, when set, is the layer's existing compressed blob, already in
	// the BlobStore: a base image layer. It is reused as it is, never
	// recompressed, unless force-compression asks for another compression.
	Blob *ocispec.Descriptor
	// CreatedBy is the history entry for the layer: what built it, without
	// host-dependent text. Ignored for layers covered by the base config's
	// history.
	CreatedBy string
}

// Compression is how layers are written: BuildKit's compression,
// compression-level and force-compression output options.
type Compression struct {
	Type  compress.Type
	Level int // 0: the type's default
	// Force recompresses base layers whose compression differs.
	Force bool
}

// cachedBlob is the metadata record for one compressed layer. DiffID is
// the blob's own diff_id, which for eStargz differs from the input's.
type cachedBlob struct {
	Descriptor ocispec.Descriptor `json:"descriptor"`
	DiffID     digest.Digest      `json:"diffID"`
}

// layerBlob is a layer as it appears in an image.
type layerBlob struct {
	desc   ocispec.Descriptor // OCI media types; converted for docker
	diffID digest.Digest
	// unstored, when set, is where the blob comes from instead of the
	// BlobStore: an uncompressed FileLayer.
	unstored *unstoredBlob
}

// unstoredBlob is an uncompressed layer's blob that is written from the
// layer into each output, not kept in the BlobStore.
type unstoredBlob struct {
	layer FileLayer
	size  int64 // as the descriptor says
}

// writeFile writes the blob into the new file f and checks it is the
// layer's tar, of the size the descriptor says.
func (u *unstoredBlob) writeFile(f *os.File) error {
	d, n, err := u.layer.WriteTarFile(f)
	if err != nil {
		return err
	}
	if d != u.layer.DiffID() || n != u.size {
		return fmt.Errorf("layer content is %s (%d bytes), not its diff_id %s (%d bytes)", d, n, u.layer.DiffID(), u.size)
	}
	return nil
}

// open streams the blob, failing at its end unless it is the layer's tar
// of the size the descriptor says.
func (u *unstoredBlob) open() (io.ReadCloser, error) {
	rc, err := u.layer.Open()
	if err != nil {
		return nil, fmt.Errorf("opening layer: %w", err)
	}
	return &checkedReader{rc: rc, h: sha256.New(), want: u.layer.DiffID(), size: u.size}, nil
}

// checkedReader reads a layer's tar and fails at EOF when its digest or
// size is not the expected one, so that an output never receives other
// bytes than the descriptor names without an error.
type checkedReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	n    int64
	want digest.Digest
	size int64
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err == io.EOF {
		if got := digest.NewDigestFromBytes(digest.SHA256, c.h.Sum(nil)); got != c.want || c.n != c.size {
			return n, fmt.Errorf("layer content is %s (%d bytes), not its diff_id %s (%d bytes)", got, c.n, c.want, c.size)
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }

// ociLayerType maps docker layer media types onto OCI ones, so a base
// layer pulled with either keeps one spelling in kiln's manifests.
func ociLayerType(mt string) string {
	switch mt {
	case "application/vnd.docker.image.rootfs.diff.tar.gzip":
		return ocispec.MediaTypeImageLayerGzip
	case "application/vnd.docker.image.rootfs.diff.tar":
		return ocispec.MediaTypeImageLayer
	case "application/vnd.docker.image.rootfs.diff.tar.zstd":
		return ocispec.MediaTypeImageLayerZstd
	}
	return mt
}

// matches reports whether an existing blob already has compression t, so
// that force-compression leaves it alone.
func matches(d ocispec.Descriptor, t compress.Type) bool {
	c, err := compress.Lookup(t)
	return err == nil && c.Matches(ociLayerType(d.MediaType), d.Annotations)
}

// blobFor returns the blob of one layer in compression c, from the base
// image, from the cache, or compressed now and added to the store.
func blobFor(store BlobStore, li LayerInput, c Compression) (layerBlob, error) {
	if li.Layer == nil {
		return layerBlob{}, fmt.Errorf("layer has no content")
	}
	if li.Blob != nil && (!c.Force || matches(*li.Blob, c.Type)) {
		ok, err := store.HasBlob(li.Blob.Digest)
		if err != nil {
			return layerBlob{}, fmt.Errorf("looking up base layer blob %s: %w", li.Blob.Digest, err)
		}
		if !ok {
			return layerBlob{}, fmt.Errorf("base layer blob %s is not in the store", li.Blob.Digest)
		}
		d := ocispec.Descriptor{MediaType: ociLayerType(li.Blob.MediaType), Digest: li.Blob.Digest, Size: li.Blob.Size, Annotations: li.Blob.Annotations}
		return layerBlob{desc: d, diffID: li.Layer.DiffID()}, nil
	}
	comp, err := compress.Lookup(c.Type)
	if err != nil {
		return layerBlob{}, err
	}
	if fl, ok := li.Layer.(FileLayer); ok && c.Type == compress.Uncompressed {
		// The blob is the layer's tar: storing a copy before writing it
		// out would write it twice and wait for the disk once more.
		if has, err := store.HasBlob(fl.DiffID()); err != nil {
			return layerBlob{}, fmt.Errorf("looking up layer blob %s: %w", fl.DiffID(), err)
		} else if !has {
			size, err := fl.TarSize()
			if err != nil {
				return layerBlob{}, fmt.Errorf("sizing layer %s: %w", fl.DiffID(), err)
			}
			d := ocispec.Descriptor{MediaType: comp.MediaType(), Digest: fl.DiffID(), Size: size}
			return layerBlob{desc: d, diffID: fl.DiffID(), unstored: &unstoredBlob{layer: fl, size: size}}, nil
		}
	}
	level, err := comp.Level(c.Level)
	if err != nil {
		return layerBlob{}, err
	}
	// The format version is part of the key: a blob compressed by an older
	// kiln must not stand in for what this one writes.
	key := string(li.Layer.DiffID()) + "+" + string(c.Type) + "+" + strconv.Itoa(level) + "+f" + strconv.Itoa(compress.FormatVersion)
	if raw, ok, err := store.GetMeta(MetaNamespace, key); err != nil {
		return layerBlob{}, fmt.Errorf("reading blob cache: %w", err)
	} else if ok {
		var cb cachedBlob
		if json.Unmarshal(raw, &cb) == nil && cb.Descriptor.Digest.Validate() == nil {
			if has, err := store.HasBlob(cb.Descriptor.Digest); err == nil && has {
				return layerBlob{desc: cb.Descriptor, diffID: cb.DiffID}, nil
			}
		}
		// A record whose blob is gone (collected) or unreadable is rebuilt.
	}
	lb, err := compressLayer(store, li.Layer, comp, level)
	if err != nil {
		return layerBlob{}, fmt.Errorf("compressing layer %s as %s: %w", li.Layer.DiffID(), c.Type, err)
	}
	raw, err := jsondoc.Marshal(cachedBlob{Descriptor: lb.desc, DiffID: lb.diffID})
	if err != nil {
		return layerBlob{}, err
	}
	if err := store.PutMeta(MetaNamespace, key, raw); err != nil {
		return layerBlob{}, fmt.Errorf("recording blob cache: %w", err)
	}
	return lb, nil
}

// compressLayer streams the layer's tar through the compressor into the
// store, checking on the way that the tar is the one its diff_id names.
func compressLayer(store BlobStore, l Layer, c compress.Compressor, level int) (layerBlob, error) {
	rc, err := l.Open()
	if err != nil {
		return layerBlob{}, fmt.Errorf("opening layer: %w", err)
	}
	defer rc.Close()
	if c.Type() == compress.Uncompressed {
		// The blob is the tar and its digest the diff_id: the store hashes
		// it once as it writes it and refuses other content, with no second
		// hash and no pipe in between.
		d, size, err := store.AddBlob(rc, l.DiffID())
		if err != nil {
			return layerBlob{}, err
		}
		return layerBlob{desc: ocispec.Descriptor{MediaType: c.MediaType(), Digest: d, Size: size}, diffID: l.DiffID()}, nil
	}
	h := sha256.New()
	src := io.TeeReader(rc, h)
	checkDiffID := func() error {
		if got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)); got != l.DiffID() {
			return fmt.Errorf("layer content is %s, not its diff_id %s", got, l.DiffID())
		}
		return nil
	}
	var s compress.Streamer
	switch c := c.(type) {
	case compress.Rewriter:
		return rewrittenLayer(store, src, checkDiffID, c, level)
	case compress.Streamer:
		s = c
	default:
		return layerBlob{}, fmt.Errorf("compression %s neither streams nor rewrites", c.Type())
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := s.Stream(pw, src, level)
		if err == nil {
			err = checkDiffID()
		}
		pw.CloseWithError(err)
	}()
	d, size, err := store.AddBlob(pr, "")
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return layerBlob{}, err
	}
	return layerBlob{desc: ocispec.Descriptor{MediaType: c.MediaType(), Digest: d, Size: size}, diffID: l.DiffID()}, nil
}

// rewrittenLayer spools the tar to a temporary file: a Rewriter (eStargz)
// reorders entries and so needs random access to its input.
func rewrittenLayer(store BlobStore, src io.Reader, check func() error, c compress.Rewriter, level int) (layerBlob, error) {
	f, err := os.CreateTemp("", "kiln-"+string(c.Type())+"-*.tar")
	if err != nil {
		return layerBlob{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.CopyBuffer(f, src, make([]byte, 1<<20))
	if err != nil {
		return layerBlob{}, fmt.Errorf("spooling layer: %w", err)
	}
	if err := check(); err != nil {
		return layerBlob{}, err
	}
	pr, pw := io.Pipe()
	done := make(chan compress.Rewritten, 1)
	go func() {
		rw, err := c.Rewrite(pw, io.NewSectionReader(f, 0, n), level)
		done <- rw
		pw.CloseWithError(err)
	}()
	d, size, err := store.AddBlob(pr, "")
	pr.CloseWithError(io.ErrClosedPipe)
	rw := <-done
	if err != nil {
		return layerBlob{}, err
	}
	desc := ocispec.Descriptor{MediaType: c.MediaType(), Digest: d, Size: size, Annotations: rw.Annotations}
	return layerBlob{desc: desc, diffID: rw.DiffID}, nil
}
