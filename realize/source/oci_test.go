package source

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/store/layer"
	"golang.org/x/sys/unix"
)

// canonicalLayer builds a tree with fill, returns its canonical tar.
func canonicalLayer(t *testing.T, fill func(dir string)) []byte {
	t.Helper()
	dir := t.TempDir()
	fill(dir)
	if err := layer.Normalize(dir, 1700000000); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := layer.WriteTar(&b, dir); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func rawLayer(t *testing.T, tarBytes []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testImage(t *testing.T, arch string, layers ...[]byte) v1.Image {
	t.Helper()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(base, &v1.ConfigFile{OS: "linux", Architecture: arch})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		if img, err = mutate.AppendLayers(img, rawLayer(t, l)); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// twoLayers is a base layer and one that deletes from it, so whiteouts and
// opaque directories cross the fetch.
func twoLayers(t *testing.T) [][]byte {
	base := canonicalLayer(t, func(d string) {
		os.MkdirAll(filepath.Join(d, "etc/conf.d"), 0o755)
		os.WriteFile(filepath.Join(d, "etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644)
		os.WriteFile(filepath.Join(d, "etc/conf.d/a"), []byte("a"), 0o600)
		os.Symlink("/etc/hosts", filepath.Join(d, "hosts"))
	})
	top := canonicalLayer(t, func(d string) {
		os.MkdirAll(filepath.Join(d, "etc/conf.d"), 0o755)
		unix.Setxattr(filepath.Join(d, "etc/conf.d"), "trusted.overlay.opaque", []byte("y"), 0)
		os.WriteFile(filepath.Join(d, "etc/conf.d/b"), []byte("b"), 0o644)
		unix.Mknod(filepath.Join(d, "hosts"), unix.S_IFCHR, 0)
	})
	return [][]byte{base, top}
}

func newDirs(t *testing.T) (func() (string, error), *[]string) {
	root := t.TempDir()
	var made []string
	return func() (string, error) {
		d, err := os.MkdirTemp(root, "layer-")
		made = append(made, d)
		return d, err
	}, &made
}

func writeLayout(t *testing.T, img v1.Image, ref string) (string, v1.Hash) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return dir, d
}

// checkImage verifies the fetched layers against the canonical tars they
// were built from: same diff_ids, whiteouts and opaque dirs in overlay form.
func checkImage(t *testing.T, got *Image, want v1.Image, tars [][]byte) {
	t.Helper()
	wd, _ := want.Digest()
	if got.ManifestDigest.String() != wd.String() {
		t.Errorf("manifest digest %s, want %s", got.ManifestDigest, wd)
	}
	wantCfg, _ := want.RawConfigFile()
	if !bytes.Equal(got.Config, wantCfg) {
		t.Error("config bytes differ")
	}
	if len(got.Layers) != len(tars) {
		t.Fatalf("%d layers, want %d", len(got.Layers), len(tars))
	}
	for i, l := range got.Layers {
		var b bytes.Buffer
		if err := layer.WriteTar(&b, l.Dir); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), tars[i]) {
			t.Errorf("layer %d: canonical tar changed across the fetch", i)
		}
		// Canonical input: kiln's identity equals the image's diff_id.
		if l.DiffID != l.ImageDiffID || l.Size != int64(len(tars[i])) {
			t.Errorf("layer %d: DiffID %s size %d, image diff_id %s size %d", i, l.DiffID, l.Size, l.ImageDiffID, len(tars[i]))
		}
	}
	if len(got.Layers) == 2 {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(got.Layers[1].Dir, "hosts"), &st); err != nil || st.Rdev != 0 || st.Mode&unix.S_IFMT != unix.S_IFCHR {
			t.Errorf("whiteout not in overlay form: %v", err)
		}
		v := make([]byte, 8)
		n, err := unix.Getxattr(filepath.Join(got.Layers[1].Dir, "etc/conf.d"), "trusted.overlay.opaque", v)
		if err != nil || string(v[:n]) != "y" {
			t.Errorf("opaque dir not in overlay form: %v", err)
		}
	}
}

func TestFetchOCILayoutDir(t *testing.T) {
	testutil.RequireRoot(t)
	tars := twoLayers(t)
	img := testImage(t, runtime.GOARCH, tars...)
	dir, d := writeLayout(t, img, "v1")
	newDir, _ := newDirs(t)
	got, err := FetchOCILayout(context.Background(), dir, "v1", d.String(), "", 0, newDir)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, got, img, tars)

	// By pin alone.
	got, err = FetchOCILayout(context.Background(), dir, "", d.String(), "", 0, newDir)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, got, img, tars)
}

func TestFetchOCILayoutErrors(t *testing.T) {
	testutil.RequireRoot(t)
	tars := twoLayers(t)
	img := testImage(t, runtime.GOARCH, tars...)
	dir, d := writeLayout(t, img, "v1")
	wrong := "sha256:" + strings.Repeat("ab", 32)

	newDir, made := newDirs(t)
	_, err := FetchOCILayout(context.Background(), dir, "v1", wrong, "", 0, newDir)
	if err == nil || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), d.String()) {
		t.Fatalf("wrong pin: %v, want both %s and %s named", err, wrong, d)
	}
	if !IsPinError(err) {
		t.Errorf("wrong pin: %v does not point at the lock", err)
	}
	// Without a ref the pin alone selects the manifest: a digest the
	// layout does not hold is the lock's doing.
	_, err = FetchOCILayout(context.Background(), dir, "", wrong, "", 0, newDir)
	if err == nil || !strings.Contains(err.Error(), "missing from the layout") || !IsPinError(err) {
		t.Fatalf("absent pin: %v, want a missing blob that points at the lock", err)
	}
	if _, err := FetchOCILayout(context.Background(), dir, "v2", "", "", 0, newDir); err == nil || !strings.Contains(err.Error(), "v1") {
		t.Fatalf("unknown ref: %v", err)
	}
	if _, err := FetchOCILayout(context.Background(), dir, "v1", "", "linux/s390x", 0, newDir); err == nil || !strings.Contains(err.Error(), "s390x") {
		t.Fatalf("wrong platform: %v", err)
	}

	// A malicious layer: the error names the layer, and nothing is kept.
	evil := func() []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		tw.WriteHeader(&tar.Header{Name: "ok", Typeflag: tar.TypeReg, Mode: 0o644})
		tw.WriteHeader(&tar.Header{Name: "../../escape", Typeflag: tar.TypeReg, Mode: 0o644})
		tw.Close()
		return b.Bytes()
	}()
	bad := testImage(t, runtime.GOARCH, tars[0], evil)
	bdir, bd := writeLayout(t, bad, "bad")
	layers, _ := bad.Layers()
	evilDigest, _ := layers[1].Digest()
	*made = nil
	_, err = FetchOCILayout(context.Background(), bdir, "bad", bd.String(), "", 0, newDir)
	if err == nil || !strings.Contains(err.Error(), evilDigest.String()) || !strings.Contains(err.Error(), "../../escape") {
		t.Fatalf("malicious layer: %v", err)
	}
	for _, m := range *made {
		if _, err := os.Stat(m); err == nil {
			t.Errorf("layer dir %s left behind", m)
		}
	}

	// A corrupted blob is caught by its digest.
	blob := filepath.Join(dir, "blobs", "sha256", func() string { h, _ := img.Layers(); d, _ := h[0].Digest(); return d.Hex }())
	data, _ := os.ReadFile(blob)
	data[len(data)/2] ^= 0xff
	os.WriteFile(blob, data, 0o644)
	if _, err := FetchOCILayout(context.Background(), dir, "v1", "", "", 0, newDir); err == nil {
		t.Fatal("corrupted blob accepted")
	} else {
		t.Log(err)
	}
}

func TestFetchOCILayoutIndex(t *testing.T) {
	testutil.RequireRoot(t)
	tars := twoLayers(t)
	amd := testImage(t, "amd64", tars[0])
	arm := testImage(t, "arm64", tars...)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	id, _ := idx.Digest()
	newDir, _ := newDirs(t)
	got, err := FetchOCILayout(context.Background(), dir, "multi", id.String(), "linux/arm64", 0, newDir)
	if err != nil {
		t.Fatal(err)
	}
	if got.IndexDigest.String() != id.String() {
		t.Errorf("index digest %s, want %s", got.IndexDigest, id)
	}
	checkImage(t, got, arm, tars)
	got, err = FetchOCILayout(context.Background(), dir, "multi", "", "linux/amd64", 0, newDir)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, got, amd, tars[:1])
}

// TestFetchOCIArchiveSkopeo reads a layout tar written by skopeo, a tool
// kiln did not write.
func TestFetchOCIArchiveSkopeo(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed")
	}
	tars := twoLayers(t)
	img := testImage(t, runtime.GOARCH, tars...)
	dir, _ := writeLayout(t, img, "v1")
	archive := filepath.Join(t.TempDir(), "img.tar")
	out, err := exec.Command("skopeo", "copy", "--insecure-policy", "oci:"+dir+":v1", "oci-archive:"+archive+":copied").CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	newDir, _ := newDirs(t)
	got, err := FetchOCILayout(context.Background(), archive, "copied", "", "", 0, newDir)
	if err != nil {
		t.Fatal(err)
	}
	// skopeo may rewrite the manifest; the layers must survive unchanged.
	for i, l := range got.Layers {
		if l.ImageDiffID != got.Layers[i].DiffID {
			t.Errorf("layer %d: %s vs %s", i, l.ImageDiffID, l.DiffID)
		}
	}
	want, _ := img.ConfigFile()
	if len(got.Layers) != 2 || got.Layers[1].DiffID.String() != want.RootFS.DiffIDs[1].String() {
		t.Fatalf("layers after skopeo: %+v", got.Layers)
	}
}

// TestFetchOCILayoutStaysInLayout: a layout is data from outside the
// build; its files are resolved inside its directory. An index.json or a
// blob that is a symlink to a host file is not read, even when the host
// file holds exactly the right bytes, and a FIFO does not block.
func TestFetchOCILayoutStaysInLayout(t *testing.T) {
	testutil.RequireRoot(t)
	img := testImage(t, runtime.GOARCH, twoLayers(t)...)
	for _, tc := range []struct {
		name string
		// swap replaces one file of the layout, given a host directory.
		swap func(t *testing.T, dir, host string)
		want string
	}{
		{"index-symlink", func(t *testing.T, dir, host string) {
			moveAndLink(t, filepath.Join(dir, "index.json"), filepath.Join(host, "index.json"), filepath.Join(host, "index.json"))
		}, "no index.json"},
		{"index-relative-symlink", func(t *testing.T, dir, host string) {
			moveAndLink(t, filepath.Join(dir, "index.json"), filepath.Join(host, "index.json"), "../../../../../../.."+filepath.Join(host, "index.json"))
		}, "no index.json"},
		{"blob-symlink", func(t *testing.T, dir, host string) {
			ls, _ := img.Layers()
			d, _ := ls[0].Digest()
			moveAndLink(t, filepath.Join(dir, "blobs/sha256", d.Hex), filepath.Join(host, "blob"), filepath.Join(host, "blob"))
		}, "is missing from the layout"},
		{"blobs-dir-symlink", func(t *testing.T, dir, host string) {
			moveAndLink(t, filepath.Join(dir, "blobs"), filepath.Join(host, "blobs"), filepath.Join(host, "blobs"))
		}, "is missing from the layout"},
		{"index-fifo", func(t *testing.T, dir, host string) {
			os.Remove(filepath.Join(dir, "index.json"))
			if err := unix.Mkfifo(filepath.Join(dir, "index.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, d := writeLayout(t, img, "v1")
			tc.swap(t, dir, t.TempDir())
			newDir, _ := newDirs(t)
			_, err := FetchOCILayout(context.Background(), dir, "v1", d.String(), "", 0, newDir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// moveAndLink moves the file at from to to, and puts a symlink to target
// in its place.
func moveAndLink(t *testing.T, from, to, target string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, from); err != nil {
		t.Fatal(err)
	}
}

// tarDir writes the files of dir as a tar, as an oci-archive holds a
// layout.
func tarDir(t testing.TB, dir string) []byte {
	t.Helper()
	var entries []testutil.TarEntry
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		entries = append(entries, testutil.TarEntry{Name: rel, Body: string(b)})
		return err
	})
	return testutil.Tar(t, entries...)
}

// FuzzFetchOCILayoutArchive: an oci-archive is a tar from outside the
// build holding JSON that names blobs. Reading it must never panic, never
// write outside the directories it was given, and remove them on error.
func FuzzFetchOCILayoutArchive(f *testing.F) {
	testutil.RequireRoot(f)
	tars := twoLayers(&testing.T{})
	f.Add(tarDir(f, func() string {
		dir := f.TempDir()
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			f.Fatal(err)
		}
		img := testImage(&testing.T{}, runtime.GOARCH, tars...)
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
			f.Fatal(err)
		}
		return dir
	}()))
	f.Add(testutil.Tar(f, testutil.TarEntry{Name: "index.json", Body: `{"manifests":[{"digest":"sha256:` + strings.Repeat("0", 64) + `"}]}`}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		archive := filepath.Join(parent, "img.tar")
		if err := os.WriteFile(archive, data, 0o644); err != nil {
			t.Fatal(err)
		}
		dirs := filepath.Join(parent, "dirs")
		os.Mkdir(dirs, 0o755)
		var made []string
		newDir := func() (string, error) {
			d, err := os.MkdirTemp(dirs, "layer-")
			made = append(made, d)
			return d, err
		}
		_, err := FetchOCILayout(context.Background(), archive, "", "", "", 64<<20, newDir)
		if err != nil {
			for _, d := range made {
				if _, serr := os.Stat(d); serr == nil {
					t.Errorf("%s was left behind after %v", d, err)
				}
			}
		}
		if ents, _ := os.ReadDir(parent); len(ents) != 2 {
			t.Errorf("fetching wrote next to its directories: %v", ents)
		}
	})
}

// TestFetchOCILayoutPlatformSpellings selects from an index with the rules
// kiln lock resolves by (internal/platform): linux/arm64/v8 is the index's
// linux/arm64, linux/x86_64 its linux/amd64, linux/arm its arm/v7 even
// though arm/v6 comes first, and a variant the index lacks is refused.
func TestFetchOCILayoutPlatformSpellings(t *testing.T) {
	testutil.RequireRoot(t)
	tars := twoLayers(t)
	imgs := map[string]v1.Image{}
	var adds []mutate.IndexAddendum
	for _, p := range []v1.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm", Variant: "v6"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
		{OS: "linux", Architecture: "arm64"},
	} {
		base := testImage(t, p.Architecture, tars[0])
		cf, err := base.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Variant = p.Variant
		img, err := mutate.ConfigFile(base, cf)
		if err != nil {
			t.Fatal(err)
		}
		pl := p
		imgs[p.Architecture+"/"+p.Variant] = img
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	newDir, _ := newDirs(t)
	for _, tc := range []struct{ want, got string }{
		{"linux/arm64/v8", "arm64/"},
		{"linux/arm64", "arm64/"},
		{"linux/aarch64", "arm64/"},
		{"linux/x86_64", "amd64/"},
		{"linux/amd64/v1", "amd64/"},
		{"linux/arm", "arm/v7"},
		{"linux/arm/v6", "arm/v6"},
		{"linux/amd64/v3", ""},
		{"linux/arm/v5", ""},
	} {
		got, err := FetchOCILayout(context.Background(), dir, "multi", "", tc.want, 0, newDir)
		if tc.got == "" {
			if err == nil || !strings.Contains(err.Error(), "no manifest for platform "+tc.want) || !strings.Contains(err.Error(), "linux/arm/v7") {
				t.Errorf("%s: %v, want no manifest, naming what the index has", tc.want, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.want, err)
			continue
		}
		want, _ := imgs[tc.got].Digest()
		if got.ManifestDigest.String() != want.String() {
			t.Errorf("%s selected %s, want the %s manifest %s", tc.want, got.ManifestDigest, tc.got, want)
		}
	}
}

// TestFetchOCILayoutConfigPlatform: an image that is no index is checked
// against its config by os and architecture in any spelling; the variant is
// the index's to choose, and configs often leave it out.
func TestFetchOCILayoutConfigPlatform(t *testing.T) {
	testutil.RequireRoot(t)
	tars := twoLayers(t)
	newDir, _ := newDirs(t)
	amd, _ := writeLayout(t, testImage(t, "amd64", tars[0]), "v1")
	arm, _ := writeLayout(t, testImage(t, "arm", tars[0]), "v1")
	for _, tc := range []struct {
		dir, want string
		ok        bool
	}{
		{amd, "linux/amd64", true},
		{amd, "linux/x86_64", true},
		{amd, "linux/arm64", false},
		{arm, "linux/arm/v6", true},
		{arm, "linux/arm", true},
		{arm, "linux/arm64", false},
	} {
		_, err := FetchOCILayout(context.Background(), tc.dir, "v1", "", tc.want, 0, newDir)
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.want, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "not "+tc.want)) {
			t.Errorf("%s: %v, want a refusal naming it", tc.want, err)
		}
	}
}
