package export_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/internal/exporttest"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/store/layer"
)

// treeInput is an image of one layer tree that the exporters can lay out.
func treeInput(t *testing.T, dir string) (*export.ImageInput, *exporttest.TreeLayer) {
	t.Helper()
	l, err := exporttest.NewTreeLayer(dir)
	must(t, err)
	return &export.ImageInput{SourceDateEpoch: epoch, Platforms: []export.PlatformInput{{
		Platform: amd64, Layers: []export.LayerInput{{Layer: l, CreatedBy: "kiln"}},
	}}}, l
}

func layerTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "app"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "app", "big"), bytes.Repeat([]byte("kiln "), 300001), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "app", "small"), []byte("x"), 0o600))
	must(t, os.Symlink("big", filepath.Join(dir, "app", "link")))
	return dir
}

// An uncompressed layer the exporters can lay out is written into every
// kind of output from its tree, as the canonical tar, and never stored.
func TestUncompressedLayerNotStored(t *testing.T) {
	dir := layerTree(t)
	var want bytes.Buffer
	must(t, layer.WriteTar(&want, dir))
	store := exporttest.NewDirStore(t.TempDir())
	in, l := treeInput(t, dir)
	out := t.TempDir()
	blob := "blobs/sha256/" + l.DiffID().Encoded()
	for _, spec := range []string{
		"type=oci,compression=uncompressed,dest=" + filepath.Join(out, "dir"),
		"type=oci,compression=uncompressed,dest=" + filepath.Join(out, "oci.tar"),
		"type=docker,compression=uncompressed,name=kiln/t:v1,dest=" + filepath.Join(out, "docker.tar"),
	} {
		md, err := exportTo(t, store, in, spec)
		must(t, err)
		if md["containerimage.digest"] == "" {
			t.Errorf("%s: no digest", spec)
		}
	}
	got, err := os.ReadFile(filepath.Join(out, "dir", blob))
	must(t, err)
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("layout's blob is not the layer's canonical tar (%d against %d bytes)", len(got), len(want.Bytes()))
	}
	for _, tarball := range []string{"oci.tar", "docker.tar"} {
		files := untar(t, filepath.Join(out, tarball))
		if !bytes.Equal(files[blob], want.Bytes()) {
			t.Errorf("%s: blob is not the layer's canonical tar", tarball)
		}
	}
	if n := store.Adds.Load(); n != 0 {
		t.Errorf("the store got %d blobs, want none", n)
	}
	// The image is the one a stored blob gives: same descriptor.
	o, err := export.ParseOutput("type=oci,compression=uncompressed,dest=x")
	must(t, err)
	img, err := export.Assemble(store, in, o.AssembleOptions())
	must(t, err)
	d := img.Manifests[0].Layers[0]
	if d.Digest != l.DiffID() || d.Size != int64(want.Len()) || d.MediaType != ocispec.MediaTypeImageLayer {
		t.Errorf("layer descriptor %+v, want %s of %d bytes", d, l.DiffID(), want.Len())
	}
}

// A layer whose tree changed since its diff_id was taken fails the export
// and leaves no output.
func TestUncompressedLayerChecked(t *testing.T) {
	dir := layerTree(t)
	store := exporttest.NewDirStore(t.TempDir())
	in, _ := treeInput(t, dir)
	must(t, os.WriteFile(filepath.Join(dir, "app", "small"), []byte("y"), 0o600))
	out := t.TempDir()
	for _, spec := range []string{
		"type=oci,compression=uncompressed,dest=" + filepath.Join(out, "dir"),
		"type=oci,compression=uncompressed,dest=" + filepath.Join(out, "oci.tar"),
	} {
		_, err := exportTo(t, store, in, spec)
		if err == nil || !strings.Contains(err.Error(), "not its diff_id") {
			t.Errorf("%s: error %v, want one about the diff_id", spec, err)
		}
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// untar reads a tar file's regular files by name.
func untar(t *testing.T, p string) map[string][]byte {
	t.Helper()
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			must(t, err)
			out[h.Name] = b
		}
	}
}

// A registry push streams the layer from its tree.
func TestUncompressedLayerPushed(t *testing.T) {
	reg := testutil.StartRegistry(t)
	dir := layerTree(t)
	store := exporttest.NewDirStore(t.TempDir())
	in, l := treeInput(t, dir)
	ref := reg.Addr + "/kiln/unc:v1"
	_, err := exportTo(t, store, in, "type=registry,compression=uncompressed,name="+ref+",push=true,registry.insecure=true")
	must(t, err)
	r, err := name.ParseReference(ref, name.Insecure)
	must(t, err)
	img, err := remote.Image(r)
	must(t, err)
	layers, err := img.Layers()
	must(t, err)
	if len(layers) != 1 {
		t.Fatalf("pulled %d layers", len(layers))
	}
	rc, err := layers[0].Compressed()
	must(t, err)
	defer rc.Close()
	h := sha256.New()
	_, err = io.Copy(h, rc)
	must(t, err)
	if got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)); got != l.DiffID() {
		t.Errorf("pulled layer is %s, want %s", got, l.DiffID())
	}
	if n := store.Adds.Load(); n != 0 {
		t.Errorf("the store got %d blobs, want none", n)
	}
}
