package source

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/kiln-build/kiln/internal/platform"
	"github.com/kiln-build/kiln/store/layer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layer is one image layer unpacked into a store layer directory.
type Layer struct {
	// Dir holds the layer in overlay form (see package layer).
	Dir string
	// DiffID is the layer's identity in kiln: the sha256 of its canonical
	// tar (layer.Hash), which differs from ImageDiffID when the image's own
	// tar was not written canonically.
	DiffID digest.Digest
	// Size is the size of the canonical tar.
	Size int64
	// Blob is the layer's descriptor in the image manifest, so exporters
	// can reuse the original compressed blob instead of recompressing.
	Blob ocispec.Descriptor
	// ImageDiffID is the diff_id the image config records for this layer;
	// the uncompressed stream was checked against it.
	ImageDiffID digest.Digest
	// BlobFile holds the compressed blob as it arrived (checked against
	// Blob.Digest), in its own directory from newDir, so the store can keep
	// it and exporters ship base layers as they are, never recompressed.
	BlobFile string
}

// Image is what a fetched image contributes to a build.
type Image struct {
	// Layers, bottom first.
	Layers []Layer
	// Config is the image config blob, byte for byte.
	Config []byte
	// ManifestDigest is the platform manifest that was unpacked.
	ManifestDigest digest.Digest
	// IndexDigest is the index the manifest was selected from, if any.
	IndexDigest digest.Digest
}

// maxManifestSize bounds manifests, indexes and configs read into memory;
// registries enforce similar limits.
const maxManifestSize = 8 << 20

const refNameAnnotation = "org.opencontainers.image.ref.name"

// ociBlobs is where an image's content comes from: a layout directory, a
// layout tar or a registry.
type ociBlobs interface {
	// bytes returns a manifest, index or config, verified against d.
	bytes(ctx context.Context, d digest.Digest) ([]byte, error)
	// open returns a blob's stream; the caller verifies it.
	open(ctx context.Context, d digest.Digest) (io.ReadCloser, error)
}

// FetchOCILayout reads the OCI image layout at path (a directory, or a tar
// of one as written by `skopeo copy ... oci-archive:`), selects the manifest
// named ref (annotation org.opencontainers.image.ref.name) or, with ref
// empty, the one pinned by pin, then the platform manifest ("os/arch" or
// "os/arch/variant"; empty means linux and the host's architecture) when
// that is an index, and unpacks each layer into a new directory from newDir.
//
// Layers are unpacked as they are, not re-normalized: their timestamps are
// the image's. Every blob is checked against its digest and every layer's
// uncompressed stream against the config's diff_id. A pin that matches
// neither the selected index nor the selected manifest is an error naming
// both digests. More than maxSize bytes of uncompressed layers (0:
// DefaultMaxSize) is a *SizeLimitError. On any error the directories made
// by newDir are removed.
func FetchOCILayout(ctx context.Context, path, ref, pin, platform string, maxSize int64, newDir func() (string, error)) (*Image, error) {
	src, closeFn, err := openLayout(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	idxBytes, err := src.indexJSON()
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(idxBytes, &idx); err != nil {
		return nil, fmt.Errorf("oci-layout %s: parsing index.json: %w", path, err)
	}
	var top digest.Digest
	switch {
	case ref != "":
		var refs []string
		for _, m := range idx.Manifests {
			name := m.Annotations[refNameAnnotation]
			if name == ref {
				top = m.Digest
				break
			}
			if name != "" {
				refs = append(refs, name)
			}
		}
		if top == "" {
			sort.Strings(refs)
			return nil, fmt.Errorf("oci-layout %s has no image named %q (it has: %s)", path, ref, strings.Join(refs, ", "))
		}
	case pin != "":
		top = digest.Digest(pin)
	case len(idx.Manifests) == 1:
		top = idx.Manifests[0].Digest
	default:
		return nil, fmt.Errorf("oci-layout %s holds %d images; name one with ref or pin", path, len(idx.Manifests))
	}
	img, err := fetchOCI(ctx, src, top, pin, platform, maxSize, newDir)
	if err != nil {
		return nil, fmt.Errorf("oci-layout %s: %w", path, err)
	}
	return img, nil
}

// fetchOCI resolves top to a platform manifest and unpacks its layers.
func fetchOCI(ctx context.Context, src ociBlobs, top digest.Digest, pin, platformStr string, maxSize int64, newDir func() (string, error)) (img *Image, err error) {
	if err := top.Validate(); err != nil {
		return nil, fmt.Errorf("invalid digest %q: %w", top, err)
	}
	want, err := wantPlatform(platformStr)
	if err != nil {
		return nil, err
	}
	out := &Image{}
	defer func() {
		// img is nil here once a return statement has set it; out is not.
		if err != nil {
			for _, l := range out.Layers {
				os.RemoveAll(l.Dir)
				if l.BlobFile != "" {
					os.RemoveAll(filepath.Dir(l.BlobFile))
				}
			}
		}
	}()
	m, err := selectManifest(ctx, src, top, pin, want, out)
	if err != nil {
		return nil, err
	}
	if pin != "" && digest.Digest(pin) != top && digest.Digest(pin) != out.ManifestDigest {
		return nil, pinErr(fmt.Errorf("pin mismatch: the lock pins %s but the image is %s", pin, top))
	}
	cfg, err := readConfig(ctx, src, m, want, out)
	if err != nil {
		return nil, err
	}
	if err := unpackLayers(ctx, src, m, cfg, maxSize, newDir, out); err != nil {
		return nil, err
	}
	return out, nil
}

// selectManifest reads top, and when it is an index the manifest for
// want (an index may hold one level of indexes), setting img's
// IndexDigest and ManifestDigest.
func selectManifest(ctx context.Context, src ociBlobs, top digest.Digest, pin string, want platform.Platform, img *Image) (ocispec.Manifest, error) {
	d := top
	var m ocispec.Manifest
	for depth := 0; ; depth++ {
		raw, err := src.bytes(ctx, d)
		if err != nil {
			if depth == 0 && pin != "" && d == digest.Digest(pin) && errors.Is(err, errNotFound) {
				return m, pinErr(err)
			}
			return m, err
		}
		var probe struct {
			MediaType string               `json:"mediaType"`
			Manifests []ocispec.Descriptor `json:"manifests"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return m, fmt.Errorf("parsing manifest %s: %w", d, err)
		}
		if probe.Manifests == nil {
			if err := json.Unmarshal(raw, &m); err != nil {
				return m, fmt.Errorf("parsing manifest %s: %w", d, err)
			}
			img.ManifestDigest = d
			return m, nil
		}
		if depth > 1 {
			return m, fmt.Errorf("index %s nests indexes too deeply", d)
		}
		img.IndexDigest = d
		child, err := selectPlatform(probe.Manifests, want)
		if err != nil {
			return m, fmt.Errorf("index %s: %w", d, err)
		}
		d = child
	}
}

// readConfig reads m's config into img and checks it against want and m.
func readConfig(ctx context.Context, src ociBlobs, m ocispec.Manifest, want platform.Platform, img *Image) (ocispec.Image, error) {
	var cfg ocispec.Image
	if m.Config.Digest == "" {
		return cfg, fmt.Errorf("manifest %s has no config (media type %q is not an image)", img.ManifestDigest, m.MediaType)
	}
	var err error
	img.Config, err = src.bytes(ctx, m.Config.Digest)
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(img.Config, &cfg); err != nil {
		return cfg, fmt.Errorf("parsing config %s: %w", m.Config.Digest, err)
	}
	// The index entry chose the variant; a config that agrees on os and
	// architecture is the image asked for, even when it leaves the variant
	// out (arm/v6 images often do).
	if have := cfg.Platform; img.IndexDigest == "" && have.OS != "" && !platform.SameArch(want, have) {
		return cfg, fmt.Errorf("image %s is for %s, not %s", img.ManifestDigest, platform.Format(have), platform.Format(want))
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return cfg, fmt.Errorf("manifest %s has %d layers but its config lists %d diff_ids", img.ManifestDigest, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	return cfg, nil
}

// unpackLayers unpacks m's layers, each into a directory from newDir with
// its blob beside it in another, adding them to img as it goes (so that
// the caller removes them all on failure).
func unpackLayers(ctx context.Context, src ociBlobs, m ocispec.Manifest, cfg ocispec.Image, maxSize int64, newDir func() (string, error), img *Image) error {
	budget := newSizeBudget(maxSize)
	for i, desc := range m.Layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir, err := newDir()
		if err != nil {
			return err
		}
		img.Layers = append(img.Layers, Layer{Dir: dir, Blob: desc, ImageDiffID: cfg.RootFS.DiffIDs[i]})
		blobDir, err := newDir()
		if err != nil {
			return err
		}
		img.Layers[i].BlobFile = filepath.Join(blobDir, "blob")
		if err := unpackBlob(ctx, src, desc, img.Layers[i].ImageDiffID, dir, img.Layers[i].BlobFile, budget); err != nil {
			return fmt.Errorf("layer %d (%s): %w", i, desc.Digest, err)
		}
		img.Layers[i].DiffID, img.Layers[i].Size, err = layer.Hash(dir)
		if err != nil {
			return fmt.Errorf("layer %d (%s): %w", i, desc.Digest, err)
		}
	}
	return nil
}

// unpackBlob streams one layer blob into dir and, as it arrived, into
// blobFile, checking both its compressed digest and its diff_id once the
// whole stream has been read. The uncompressed stream counts against
// budget, trailing bytes after the tar included.
func unpackBlob(ctx context.Context, src ociBlobs, desc ocispec.Descriptor, diffID digest.Digest, dir, blobFile string, budget *sizeBudget) error {
	if strings.Contains(desc.MediaType, "nondistributable") || strings.Contains(desc.MediaType, "foreign") {
		return fmt.Errorf("media type %s is a foreign layer that the image does not carry", desc.MediaType)
	}
	if err := desc.Digest.Validate(); err != nil {
		return err
	}
	if err := diffID.Validate(); err != nil {
		return fmt.Errorf("config diff_id: %w", err)
	}
	rc, err := src.open(ctx, desc.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	keep, err := os.OpenFile(blobFile, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer keep.Close()
	blobV := desc.Digest.Verifier()
	raw := &countReader{r: io.TeeReader(rc, io.MultiWriter(blobV, keep))}
	dr, err := layer.Decompress(raw)
	if err != nil {
		return err
	}
	defer dr.Close()
	diffV := diffID.Verifier()
	tr := io.TeeReader(budget.reader(dr), diffV)
	if err := layer.Unpack(tr, dir); err != nil {
		return err
	}
	// Tar end blocks and compression trailers are part of both digests.
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return fmt.Errorf("reading layer: %w", err)
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return fmt.Errorf("reading layer: %w", err)
	}
	if !blobV.Verified() {
		return fmt.Errorf("blob digest mismatch: the manifest says %s but the %d bytes that arrived hash to something else", desc.Digest, raw.n)
	}
	if desc.Size > 0 && raw.n != desc.Size {
		return fmt.Errorf("blob %s is %d bytes, the manifest says %d", desc.Digest, raw.n, desc.Size)
	}
	if !diffV.Verified() {
		return fmt.Errorf("diff_id mismatch: the config says %s but the uncompressed layer hashes to something else", diffID)
	}
	if err := keep.Close(); err != nil {
		return fmt.Errorf("keeping blob %s: %w", desc.Digest, err)
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// wantPlatform reads the platform a fetch is for; empty means linux and
// the host's architecture.
func wantPlatform(s string) (platform.Platform, error) {
	if s == "" {
		return platform.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	return platform.Parse(s)
}

// selectPlatform picks the first manifest for want in index order, with
// the rules the lock resolved it by (platform.Match: linux/arm64 and
// linux/arm64/v8 are one platform, a variant is otherwise matched exactly),
// so that what kiln lock pinned is what the build finds.
func selectPlatform(ms []ocispec.Descriptor, want platform.Platform) (digest.Digest, error) {
	var have []string
	for _, m := range ms {
		if m.Platform == nil {
			continue
		}
		if platform.Match(want, *m.Platform) {
			return m.Digest, nil
		}
		have = append(have, platform.Format(*m.Platform))
	}
	return "", fmt.Errorf("no manifest for platform %s (the index has: %s)", platform.Format(want), strings.Join(have, ", "))
}

// readVerified reads a small blob fully and checks its digest.
func readVerified(r io.Reader, d digest.Digest) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d, err)
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%s is larger than %d bytes, too large for a manifest or config", d, maxManifestSize)
	}
	if got := d.Algorithm().FromBytes(b); got != d {
		return nil, fmt.Errorf("digest mismatch: expected %s, got %s", d, got)
	}
	return b, nil
}

// layoutSource reads a layout from a directory or from a tar file, without
// unpacking the tar: blobs are sections of it.
type layoutSource struct {
	dir     string
	tarFile *os.File
	entries map[string][2]int64 // clean name -> offset, size
}

func openLayout(p string) (*layoutSource, func(), error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, nil, fmt.Errorf("opening oci-layout: %w", err)
	}
	if st.IsDir() {
		return &layoutSource{dir: p}, func() {}, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("opening oci-layout: %w", err)
	}
	s := &layoutSource{tarFile: f, entries: map[string][2]int64{}}
	cr := &countReader{r: f}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("oci-layout %s: reading tar (is it an OCI layout archive?): %w", p, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			s.entries[path.Clean(strings.TrimLeft(hdr.Name, "/"))] = [2]int64{cr.n, hdr.Size}
		}
	}
	return s, func() { f.Close() }, nil
}

func (s *layoutSource) openFile(name string) (io.ReadCloser, error) {
	if s.tarFile == nil {
		return openInLayout(s.dir, name)
	}
	e, ok := s.entries[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, os.ErrNotExist)
	}
	return io.NopCloser(io.NewSectionReader(s.tarFile, e[0], e[1])), nil
}

// openInLayout opens the regular file name of the layout directory dir,
// resolving symlinks inside dir: a layout is data from outside the build,
// and its index.json or a blob that is a symlink to /etc/shadow must not
// read the host's file.
func openInLayout(dir, name string) (io.ReadCloser, error) {
	h, err := pathrs.OpenInRoot(dir, name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	f, _, err := reopenRegular(h)
	if err != nil {
		return nil, fmt.Errorf("%s in the layout: %w", name, err)
	}
	return f, nil
}

func (s *layoutSource) indexJSON() ([]byte, error) {
	f, err := s.openFile("index.json")
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout (no index.json): %w", err)
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxManifestSize))
}

func (s *layoutSource) open(_ context.Context, d digest.Digest) (io.ReadCloser, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	rc, err := s.openFile("blobs/" + string(d.Algorithm()) + "/" + d.Encoded())
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound{fmt.Errorf("blob %s is missing from the layout", d)}
	}
	return rc, err
}

func (s *layoutSource) bytes(ctx context.Context, d digest.Digest) ([]byte, error) {
	rc, err := s.open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readVerified(rc, d)
}

var _ ociBlobs = (*layoutSource)(nil)

// ociLayoutFetcher reads an image from an OCI layout in the build folder
// (attribute ref selects one of its images).
type ociLayoutFetcher struct{}

func (ociLayoutFetcher) Fetch(ctx context.Context, req *Request) (Fetched, error) {
	dir, err := req.inFolder(req.Identifier)
	if err != nil {
		return Fetched{}, err
	}
	img, err := FetchOCILayout(ctx, dir, req.Attrs["ref"], req.Pin, req.Platform, req.MaxSize, req.NewDir)
	return Fetched{Image: img}, err
}
