package export

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/internal/jsondoc"
)

// ociExporter writes an OCI image layout, as a directory or a tar file.
type ociExporter struct{}

var _ ImageExporter = ociExporter{}

func (ociExporter) Type() string { return "oci" }

func (ociExporter) Keys() []string {
	return []string{"dest", "name", "tar", "compression", "compression-level", "force-compression", "force", "sync"}
}

// Check makes a dest ending in .tar a tar file unless tar= says otherwise.
func (ociExporter) Check(o *Output, given func(string) bool) error {
	if !given("tar") {
		o.Tar = strings.HasSuffix(o.Dest, ".tar")
	}
	if err := needDest(o); err != nil {
		return err
	}
	return noStdout(o)
}

func (ociExporter) AssembleOptions(o Output) AssembleOptions {
	return AssembleOptions{Compression: o.LayerCompression()}
}

func (ociExporter) ExportImage(_ context.Context, o Output, store BlobStore, img *Image, epoch int64) error {
	if img.Docker {
		return errors.New("type=oci: image was assembled with docker media types")
	}
	s, err := ociLayout(store, img, o.Names)
	if err != nil {
		return fmt.Errorf("type=oci: %w", err)
	}
	return atomically(o, func(tmp string) error {
		if o.Tar {
			return writeTarFile(tmp, s, epoch)
		}
		return s.writeDir(tmp)
	})
}

// file is one file of an output being written: data in memory, a blob
// in the store or a layer's tar written from the layer.
type file struct {
	name     string
	data     []byte
	blob     string // path in the BlobStore
	unstored *unstoredBlob
	size     int64
}

func (f file) open() (io.ReadCloser, error) {
	switch {
	case f.unstored != nil:
		return f.unstored.open()
	case f.blob == "":
		return io.NopCloser(bytes.NewReader(f.data)), nil
	}
	return os.Open(f.blob)
}

// fileSet collects the files of an output once each, by name.
type fileSet map[string]file

func (s fileSet) addData(name string, data []byte) {
	s[name] = file{name: name, data: data, size: int64(len(data))}
}

func (s fileSet) addBlob(store BlobStore, d ocispec.Descriptor, unstored map[digest.Digest]*unstoredBlob) error {
	name := blobName(d.Digest)
	if u := unstored[d.Digest]; u != nil {
		s[name] = file{name: name, unstored: u, size: d.Size}
		return nil
	}
	ok, err := store.HasBlob(d.Digest)
	if err != nil {
		return fmt.Errorf("looking up blob %s: %w", d.Digest, err)
	}
	if !ok {
		return fmt.Errorf("blob %s is not in the store", d.Digest)
	}
	s[name] = file{name: name, blob: store.BlobPath(d.Digest), size: d.Size}
	return nil
}

func blobName(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }

// sorted returns the files and their parent directories in byte order of
// their names, parents first.
func (s fileSet) sorted() (dirs []string, files []file) {
	seenDir := map[string]bool{}
	for name, f := range s {
		files = append(files, f)
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			seenDir[d] = true
		}
	}
	for d := range seenDir {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return dirs, files
}

// writeDir writes the set as a directory tree at dir. Modes are set
// explicitly, so the umask does not reach the result.
func (s fileSet) writeDir(dir string) error {
	dirs, files := s.sorted()
	for _, d := range append([]string{""}, dirs...) {
		p := filepath.Join(dir, d)
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(p string, f file) error {
	w, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := fill(w, f); err != nil {
		w.Close()
		return fmt.Errorf("writing %s: %w", f.name, err)
	}
	if err := w.Chmod(0o644); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// fill writes f's content into the new file w: an unstored layer from its
// tree, the rest by copy (copy_file_range from the store).
func fill(w *os.File, f file) error {
	if f.unstored != nil {
		return f.unstored.writeFile(w)
	}
	r, err := f.open()
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.CopyBuffer(w, r, make([]byte, 1<<20))
	return err
}

// writeTar writes the set as a tar with fixed headers: USTAR, root-owned,
// no user or group names, every mtime at the epoch.
func (s fileSet) writeTar(w io.Writer, epoch int64) error {
	dirs, files := s.sorted()
	tw := tar.NewWriter(w)
	mtime := time.Unix(epoch, 0).UTC()
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: f.size, ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		r, err := f.open()
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(tw, r, make([]byte, 1<<20))
		r.Close()
		if err != nil {
			return fmt.Errorf("writing %s: %w", f.name, err)
		}
		if n != f.size {
			return fmt.Errorf("writing %s: blob has %d bytes, its descriptor says %d", f.name, n, f.size)
		}
	}
	return tw.Close()
}

func writeTarFile(p string, s fileSet, epoch int64) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := s.writeTar(f, epoch); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// imageFiles adds every blob of img: layers, configs, manifests (the
// attestation manifests too), index.
func imageFiles(s fileSet, store BlobStore, img *Image) error {
	for _, m := range append(img.Manifests[:len(img.Manifests):len(img.Manifests)], img.Attestations...) {
		for _, l := range m.Layers {
			if err := s.addBlob(store, l, m.unstored); err != nil {
				return err
			}
		}
		s.addData(blobName(m.ConfigDesc.Digest), m.Config)
		s.addData(blobName(m.Desc.Digest), m.Raw)
	}
	if img.Index != nil {
		s.addData(blobName(img.Descriptor.Digest), img.Index)
	}
	return nil
}

// refName splits a reference into the tag an OCI layout names it by
// (org.opencontainers.image.ref.name) and keeps the full name for
// containerd's io.containerd.image.name, as BuildKit does.
func refName(name string) string {
	if i := strings.LastIndex(name, "@"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[i+1:]
	}
	return "latest"
}

// ociLayout builds the files of an OCI image layout holding img, its
// index.json naming it by each of names.
func ociLayout(store BlobStore, img *Image, names []string) (fileSet, error) {
	s := fileSet{}
	if err := imageFiles(s, store, img); err != nil {
		return nil, err
	}
	layout, err := jsondoc.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return nil, err
	}
	s.addData(ocispec.ImageLayoutFile, layout)
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	top := img.Descriptor
	if len(names) == 0 {
		idx.Manifests = []ocispec.Descriptor{top}
	}
	for _, n := range sortedUnique(names) {
		d := top
		d.Annotations = map[string]string{
			"io.containerd.image.name": n,
			ocispec.AnnotationRefName:  refName(n),
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	raw, err := jsondoc.Marshal(idx)
	if err != nil {
		return nil, err
	}
	s.addData("index.json", raw)
	return s, nil
}

func sortedUnique(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	var u []string
	for i, s := range out {
		if i == 0 || s != out[i-1] {
			u = append(u, s)
		}
	}
	return u
}
