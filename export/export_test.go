package export_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/compress"
	"github.com/kiln-build/kiln/export/internal/exporttest"
	"github.com/kiln-build/kiln/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt")

const epoch = 1700000000

var amd64 = ocispec.Platform{OS: "linux", Architecture: "amd64"}

// sourceTree writes the tree the image tests export: busybox plus a few
// files with modes and a symlink.
func sourceTree(t *testing.T) string {
	t.Helper()
	dir := testutil.BusyboxRootfs(t)
	must(t, os.MkdirAll(filepath.Join(dir, "app", "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "app", "hello.txt"), []byte("hello from kiln\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "app", "run.sh"), []byte("#!/bin/sh\necho ok\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "app", "data", "secret"), []byte("0600"), 0o600))
	must(t, os.Symlink("hello.txt", filepath.Join(dir, "app", "link")))
	for _, p := range []string{"app", "app/data", "app/hello.txt", "app/run.sh", "app/data/secret"} {
		must(t, os.Chtimes(filepath.Join(dir, p), time.Unix(0, 0), time.Unix(0, 0)))
	}
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// input builds an image of the tree as two layers: everything but /app,
// then /app, so the history and layer order are exercised.
func input(t testing.TB, tree string) *export.ImageInput {
	t.Helper()
	base, err := exporttest.DirLayer(tree, epoch)
	must(t, err)
	app := exporttest.TarOf(epoch,
		exporttest.Entry{Name: "etc/motd", Type: tar.TypeReg, Mode: 0o644, Data: "built by kiln\n"},
	)
	return &export.ImageInput{
		Spec: export.ImageSpec{
			Entrypoint: []string{"/bin/busybox"}, Cmd: []string{"echo", "ok"},
			Env:    map[string]string{"PATH": "/bin:/usr/bin", "GREETING": "hi"},
			Labels: map[string]string{"org.example": "yes"}, Workdir: "/app", User: "0:0",
			Expose: []string{"8080"}, Volumes: []string{"/data"}, StopSignal: "SIGTERM",
			Annotations: map[string]string{"org.example.block": "x"},
		},
		Platforms: []export.PlatformInput{{Platform: amd64, Layers: []export.LayerInput{
			{Layer: base, CreatedBy: "kiln stage.base"},
			{Layer: app, CreatedBy: "kiln stage.app: file /etc/motd"},
		}}},
		SourceDateEpoch: epoch,
		Source:          "https://example.invalid/repo",
		Revision:        "0123456789abcdef",
	}
}

func exportTo(t testing.TB, store export.BlobStore, in *export.ImageInput, spec string) (export.Metadata, error) {
	t.Helper()
	o, err := export.ParseOutput(spec)
	if err != nil {
		return nil, err
	}
	img, err := export.Assemble(store, in, o.AssembleOptions())
	if err != nil {
		return nil, err
	}
	return export.ExportImage(context.Background(), o, store, img, in.SourceDateEpoch)
}

func TestOCILayoutOutsideTools(t *testing.T) {
	testutil.RequireRoot(t)
	tree := sourceTree(t)
	store := exporttest.NewDirStore(t.TempDir())
	out := t.TempDir()
	in := input(t, tree)
	dir := filepath.Join(out, "layout")
	md, err := exportTo(t, store, in, "type=oci,dest="+dir+",name=example.com/kiln/test:v1")
	must(t, err)
	archive := filepath.Join(out, "image.tar")
	md2, err := exportTo(t, store, in, "type=oci,dest="+archive+",name=example.com/kiln/test:v1")
	must(t, err)
	if md["containerimage.digest"] != md2["containerimage.digest"] {
		t.Fatalf("layout and archive digests differ: %v vs %v", md, md2)
	}

	for _, ref := range []string{"oci:" + dir + ":v1", "oci-archive:" + archive + ":v1"} {
		var info struct {
			Digest       string
			Architecture string
			Os           string
			Labels       map[string]string
			Env          []string
			Layers       []string
		}
		must(t, json.Unmarshal([]byte(run(t, "skopeo", "inspect", ref)), &info))
		if info.Digest != md["containerimage.digest"] || info.Architecture != "amd64" || info.Os != "linux" || info.Labels["org.example"] != "yes" || len(info.Layers) != 2 {
			t.Errorf("skopeo inspect %s: %+v, want digest %v", ref, info, md["containerimage.digest"])
		}
		copyDir := filepath.Join(t.TempDir(), "copy")
		run(t, "skopeo", "copy", "--preserve-digests", ref, "oci:"+copyDir+":copied")
		got := run(t, "skopeo", "inspect", "--format", "{{.Digest}}", "oci:"+copyDir+":copied")
		if strings.TrimSpace(got) != md["containerimage.digest"] {
			t.Errorf("skopeo copy of %s: digest %s, want %v", ref, got, md["containerimage.digest"])
		}
	}

	bundle := filepath.Join(t.TempDir(), "bundle")
	run(t, "umoci", "unpack", "--image", dir+":v1", bundle)
	want := treeListing(t, tree)
	want["etc/motd"] = "file 644 built by kiln\n"
	if diff := diffListings(want, treeListing(t, filepath.Join(bundle, "rootfs"))); diff != "" {
		t.Errorf("umoci unpack differs from the source tree:\n%s", diff)
	}
	var rt struct {
		Process struct {
			Args []string
			Env  []string
			Cwd  string
		}
	}
	raw, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	must(t, err)
	must(t, json.Unmarshal(raw, &rt))
	if strings.Join(rt.Process.Args, " ") != "/bin/busybox echo ok" || rt.Process.Cwd != "/app" {
		t.Errorf("runtime config from umoci: %+v", rt.Process)
	}
}

// treeListing describes each path of a tree: type, permissions and
// content or link target.
func treeListing(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "symlink " + l
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %o", fi.Mode().Perm()|fi.Mode()&fs.ModeSticky)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if len(b) > 64 {
				h := sha256.Sum256(b)
				b = []byte(hex.EncodeToString(h[:]))
			}
			out[rel] = fmt.Sprintf("file %o %s", fi.Mode().Perm(), b)
		}
		return nil
	}))
	return out
}

func diffListings(want, got map[string]string) string {
	var lines []string
	for k, v := range want {
		if got[k] != v {
			lines = append(lines, fmt.Sprintf("%s: want %q, got %q", k, v, got[k]))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("%s: unexpected %q", k, v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestRegistryPushPull(t *testing.T) {
	reg := testutil.StartRegistry(t)
	store := exporttest.NewDirStore(t.TempDir())
	in := input(t, sourceTree(t))
	in.Platforms = append(in.Platforms, export.PlatformInput{
		Platform: ocispec.Platform{OS: "linux", Architecture: "arm64"},
		Layers:   []export.LayerInput{{Layer: exporttest.TarOf(epoch, exporttest.Entry{Name: "a", Type: tar.TypeReg, Mode: 0o644, Data: "arm"}), CreatedBy: "kiln"}},
	})
	for _, tc := range []struct {
		name  string
		plats int
	}{{"single", 1}, {"index", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			in := *in
			in.Platforms = in.Platforms[:tc.plats]
			ref := reg.Addr + "/kiln/" + tc.name + ":v1"
			md, err := exportTo(t, store, &in, "type=registry,name="+ref+",push=true,registry.insecure=true")
			must(t, err)
			dg := md["containerimage.digest"].(string)
			byDigest, err := name.ParseReference(reg.Addr+"/kiln/"+tc.name+"@"+dg, name.Insecure)
			must(t, err)
			desc, err := remote.Get(byDigest)
			must(t, err)
			if desc.Digest.String() != dg {
				t.Fatalf("pulled %s, pushed %s", desc.Digest, dg)
			}
			if tc.plats == 1 {
				img, err := desc.Image()
				must(t, err)
				cd, err := img.ConfigName()
				must(t, err)
				if cd.String() != md["containerimage.config.digest"] {
					t.Errorf("config digest %s, want %v", cd, md["containerimage.config.digest"])
				}
				layers, err := img.Layers()
				must(t, err)
				for _, l := range layers {
					rc, err := l.Compressed()
					must(t, err)
					h := sha256.New()
					io.Copy(h, rc)
					rc.Close()
					ld, _ := l.Digest()
					if "sha256:"+hex.EncodeToString(h.Sum(nil)) != ld.String() {
						t.Errorf("layer %s pulled with other bytes", ld)
					}
				}
			} else {
				idx, err := desc.ImageIndex()
				must(t, err)
				im, err := idx.IndexManifest()
				must(t, err)
				if len(im.Manifests) != 2 || im.Manifests[0].Platform.Architecture != "amd64" || im.Manifests[1].Platform.Architecture != "arm64" {
					t.Errorf("index manifests not sorted by platform: %+v", im.Manifests)
				}
			}
		})
	}
}

func TestPodmanLoadRun(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed here; the skopeo and umoci checks cover the layout")
	}
	store := exporttest.NewDirStore(t.TempDir())
	in := input(t, sourceTree(t))
	archive := filepath.Join(t.TempDir(), "docker.tar")
	ref := "localhost/kiln-export-test:v1"
	_, err := exportTo(t, store, in, "type=docker,dest="+archive+",name="+ref)
	must(t, err)
	// Not t.TempDir: a container runc failed to start can leave podman's
	// cleanup still writing in the graph as the test ends, and TempDir
	// fails the test when it cannot remove a directory.
	graph, err := os.MkdirTemp("", "kiln-podman-")
	must(t, err)
	podman := func(args ...string) (string, error) {
		args = append([]string{"--storage-driver", "vfs", "--root", graph, "--runroot", filepath.Join(graph, "run"), "--cgroup-manager", "cgroupfs", "--events-backend", "none"}, args...)
		out, err := exec.Command("podman", args...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		podman("rm", "-a", "-f")
		podman("rmi", "-a", "-f")
		for i := 0; ; i++ {
			err := os.RemoveAll(graph)
			if err == nil {
				return
			}
			if i == 10 {
				t.Logf("leaving podman's graph %s: %v", graph, err)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	if out, err := podman("load", "-i", archive); err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	// podman raises nofile and nproc beyond what this sandboxed host
	// allows; ask for the limits this process already has.
	var nofile, nproc syscall.Rlimit
	must(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile))
	must(t, syscall.Getrlimit(6 /* RLIMIT_NPROC */, &nproc))
	out, err := podman("run", "--rm", "--network", "none",
		"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Max),
		"--ulimit", fmt.Sprintf("nproc=%d:%d", nproc.Cur, nproc.Max), ref, "/bin/busybox", "echo", "ok")
	if err != nil {
		if strings.Contains(out, "error setting rlimit") || strings.Contains(out, "cgroup") {
			// Seen on this 2-core CI sandbox: runc may not set rlimits in it.
			// podman load has already passed; the image itself is fine.
			t.Skipf("podman loaded the archive but cannot start containers on this host: %s", out)
		}
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("podman run printed %q, want ok", out)
	}
}

// TestReproducible exports the same image in two child processes with
// different TZ, umask, GOMAXPROCS, working directory, store and wall
// clock, and compares every byte.
func TestReproducible(t *testing.T) {
	if dir := os.Getenv("KILN_EXPORT_CHILD"); dir != "" {
		childExport(t, dir)
		return
	}
	tree := sourceTree(t)
	runChild := func(env ...string) string {
		out := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestReproducible$")
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), append(env, "KILN_EXPORT_CHILD="+out, "KILN_EXPORT_TREE="+tree)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child export: %v\n%s", err, b)
		}
		return out
	}
	a := runChild("TZ=UTC", "GOMAXPROCS=1", "KILN_UMASK=022")
	time.Sleep(1100 * time.Millisecond)
	b := runChild("TZ=Asia/Kathmandu", "GOMAXPROCS=2", "KILN_UMASK=077")
	la, lb := fileDigests(t, a), fileDigests(t, b)
	if diff := diffListings(la, lb); diff != "" {
		t.Fatalf("two exports differ:\n%s", diff)
	}
	if len(la) < 8 {
		t.Fatalf("too few outputs compared: %v", la)
	}
	golden := filepath.Join("testdata", "golden.txt")
	var lines []string
	for k, v := range la {
		if strings.HasSuffix(k, ".digest") {
			lines = append(lines, k+" "+v)
		}
	}
	sort.Strings(lines)
	got := "# manifest digests of TestReproducible's images; klauspost/compress v1.20.3, estargz v0.19.1.\n# Rewrite with: go test ./export -run TestReproducible -update\n" + strings.Join(lines, "\n") + "\n"
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	must(t, err)
	if string(want) != got {
		t.Fatalf("digests differ from %s (run with -update if the change is intended):\n%s", golden, got)
	}
}

func childExport(t *testing.T, out string) {
	var mask int
	fmt.Sscanf(os.Getenv("KILN_UMASK"), "%o", &mask)
	syscall.Umask(mask)
	store := exporttest.NewDirStore(filepath.Join(out, "..", filepath.Base(out)+"-store"))
	in := input(t, os.Getenv("KILN_EXPORT_TREE"))
	for _, c := range []string{"gzip", "zstd", "estargz", "uncompressed"} {
		md, err := exportTo(t, store, in, "type=oci,dest="+filepath.Join(out, c+".tar")+",name=kiln/repro:v1,compression="+c)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(out, c+".digest"), []byte(md["containerimage.digest"].(string)), 0o644))
		_, err = exportTo(t, store, in, "type=oci,dest="+filepath.Join(out, c+"-dir")+",compression="+c)
		must(t, err)
	}
	_, err := exportTo(t, store, in, "type=docker,dest="+filepath.Join(out, "docker.tar")+",name=kiln/repro:v1")
	must(t, err)
	sq := *in
	sq.Spec.Squash = true
	md, err := exportTo(t, store, &sq, "type=oci,dest="+filepath.Join(out, "squash.tar"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(out, "squash.digest"), []byte(md["containerimage.digest"].(string)), 0o644))
	_ = runtime.GOMAXPROCS(0)
}

// fileDigests lists every file under dir with its mode and sha256.
func fileDigests(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			out[rel] = fi.Mode().String()
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(rel, ".digest") {
			out[rel] = string(b)
			return nil
		}
		h := sha256.Sum256(b)
		out[rel] = fi.Mode().String() + " " + hex.EncodeToString(h[:])
		return nil
	}))
	return out
}

func TestSecondExportCompressesNothing(t *testing.T) {
	store := exporttest.NewDirStore(t.TempDir())
	in := input(t, sourceTree(t))
	for _, c := range []string{"gzip", "zstd", "estargz"} {
		before := store.Adds.Load()
		_, err := exportTo(t, store, in, "type=oci,dest="+filepath.Join(t.TempDir(), "a")+",compression="+c)
		must(t, err)
		if store.Adds.Load() == before {
			t.Fatalf("%s: first export added no blob", c)
		}
		mid := store.Adds.Load()
		_, err = exportTo(t, store, in, "type=oci,dest="+filepath.Join(t.TempDir(), "b")+",compression="+c)
		must(t, err)
		if store.Adds.Load() != mid {
			t.Fatalf("%s: second export compressed %d layers again", c, store.Adds.Load()-mid)
		}
	}
}

func TestBaseLayersReused(t *testing.T) {
	store := exporttest.NewDirStore(t.TempDir())
	baseTar := exporttest.TarOf(epoch, exporttest.Entry{Name: "base", Type: tar.TypeReg, Mode: 0o644, Data: "base"})
	// The base blob is compressed by someone else, with other settings:
	// kiln must ship these exact bytes.
	var blob bytes.Buffer
	_, err := compress.Compress(&blob, bytes.NewReader(baseTar.Tar), compress.Gzip, 1)
	must(t, err)
	d, n, err := store.AddBlob(bytes.NewReader(blob.Bytes()), "")
	must(t, err)
	baseCfg := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin","KEEP=1"],"Cmd":["sh"],"Labels":{"base":"1"}},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created":"2020-01-01T00:00:00Z","created_by":"base step"}],"container":"abc","docker_version":"20.10"}`, baseTar.DiffID())
	in := &export.ImageInput{
		Spec: export.ImageSpec{Env: map[string]string{"PATH": "/bin"}, Entrypoint: []string{"/bin/x"}},
		Platforms: []export.PlatformInput{{Platform: amd64, BaseConfig: []byte(baseCfg), Layers: []export.LayerInput{
			{Layer: baseTar, Blob: &ocispec.Descriptor{MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Digest: d, Size: n}},
			{Layer: exporttest.TarOf(epoch, exporttest.Entry{Name: "top", Type: tar.TypeReg, Mode: 0o644, Data: "top"}), CreatedBy: "kiln top"},
		}}},
		SourceDateEpoch: epoch,
	}
	img, err := export.Assemble(store, in, export.AssembleOptions{Compression: export.Compression{Type: compress.Zstd}})
	must(t, err)
	m := img.Manifests[0]
	if m.Layers[0].Digest != d || m.Layers[0].MediaType != ocispec.MediaTypeImageLayerGzip || m.Layers[1].MediaType != ocispec.MediaTypeImageLayerZstd {
		t.Fatalf("base layer not reused as is: %+v", m.Layers)
	}
	want := `{"created":"2023-11-14T22:13:20Z","architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","KEEP=1"],"Entrypoint":["/bin/x"],"Labels":{"base":"1"}},"rootfs":{"type":"layers","diff_ids":["` + string(baseTar.DiffID()) + `","` + string(in.Platforms[0].Layers[1].Layer.DiffID()) + `"]},"history":[{"created":"2020-01-01T00:00:00Z","created_by":"base step"},{"created":"2023-11-14T22:13:20Z","created_by":"kiln top"}]}`
	if string(m.Config) != want {
		t.Fatalf("config:\n got %s\nwant %s", m.Config, want)
	}
	forced, err := export.Assemble(store, in, export.AssembleOptions{Compression: export.Compression{Type: compress.Zstd, Force: true}})
	must(t, err)
	if forced.Manifests[0].Layers[0].MediaType != ocispec.MediaTypeImageLayerZstd {
		t.Fatalf("force-compression kept %s", forced.Manifests[0].Layers[0].MediaType)
	}
}

func TestBadInput(t *testing.T) {
	store := exporttest.NewDirStore(t.TempDir())
	in := input(t, sourceTree(t))
	dir := t.TempDir()
	existing := filepath.Join(dir, "exists")
	must(t, os.WriteFile(existing, []byte("keep"), 0o644))
	ro := filepath.Join(dir, "ro")
	must(t, os.Mkdir(ro, 0o555))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	closed := l.Addr().String()
	l.Close()
	noLayers := *in
	noLayers.Platforms = []export.PlatformInput{{Platform: amd64}}

	for _, tc := range []struct {
		name, spec string
		in         *export.ImageInput
		want       string
	}{
		{"existing dest", "type=oci,dest=" + existing, in, "force=true"},
		{"unknown type", "type=ocii,dest=x", in, `unknown type "ocii"`},
		{"unknown key", "type=oci,dest=x,compresion=zstd", in, `unknown key "compresion"`},
		{"bad compression", "type=oci,dest=x,compression=lz4", in, `unknown compression "lz4"`},
		{"bad level", "type=oci,dest=x,compression=gzip,compression-level=12", in, "out of range"},
		{"registry down", "type=registry,name=" + closed + "/x:v1,registry.insecure=true", in, "connection refused"},
		{"no layers", "type=oci,dest=" + filepath.Join(dir, "none"), &noLayers, "no layers"},
		{"docker without name", "type=docker,dest=x.tar", in, "needs name="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := exportTo(t, store, tc.in, tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Errorf("existing destination was changed")
	}
	if os.Geteuid() != 0 {
		_, err := exportTo(t, store, in, "type=oci,dest="+filepath.Join(ro, "out"))
		if err == nil || !strings.Contains(err.Error(), "cannot write") {
			t.Errorf("unwritable dest: %v", err)
		}
	}
	// Root ignores modes, so an unwritable destination is a path under a
	// regular file, which no user can create.
	_, err = exportTo(t, store, in, "type=oci,dest="+filepath.Join(existing, "sub", "out.tar"))
	if err == nil || !strings.Contains(err.Error(), "cannot write") {
		t.Errorf("unwritable dest: %v", err)
	}
	// A failure while writing (a blob missing from the store) leaves no
	// partial output and no temporary behind.
	o, _ := export.ParseOutput("type=oci,dest=" + filepath.Join(dir, "partial"))
	img, err := export.Assemble(store, in, o.AssembleOptions())
	must(t, err)
	must(t, os.Remove(store.BlobPath(img.Manifests[0].Layers[0].Digest)))
	if _, err := export.ExportImage(context.Background(), o, store, img, epoch); err == nil {
		t.Fatal("export with a missing blob succeeded")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "exists" && e.Name() != "ro" {
			t.Errorf("left behind after failures: %s", e.Name())
		}
	}
}

func TestForceReplaces(t *testing.T) {
	store := exporttest.NewDirStore(t.TempDir())
	in := input(t, sourceTree(t))
	dest := filepath.Join(t.TempDir(), "layout")
	must(t, os.Mkdir(dest, 0o755))
	must(t, os.WriteFile(filepath.Join(dest, "stale"), nil, 0o644))
	_, err := exportTo(t, store, in, "type=oci,dest="+dest+",force=true")
	must(t, err)
	if _, err := os.Stat(filepath.Join(dest, "stale")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("force=true kept the old content")
	}
	if _, err := os.Stat(filepath.Join(dest, "index.json")); err != nil {
		t.Fatal(err)
	}
	// sync=true flushes the output first and writes the same layout.
	synced := filepath.Join(t.TempDir(), "synced.tar")
	_, err = exportTo(t, store, in, "type=oci,sync=true,dest="+synced)
	must(t, err)
	plain := filepath.Join(t.TempDir(), "plain.tar")
	_, err = exportTo(t, store, in, "type=oci,dest="+plain)
	must(t, err)
	a, err := os.ReadFile(synced)
	must(t, err)
	b, err := os.ReadFile(plain)
	must(t, err)
	if !bytes.Equal(a, b) {
		t.Error("sync=true wrote other bytes than the same export without it")
	}
}

// A forced export that fails keeps the old destination whole, and a forced
// export that succeeds leaves no temporary (the old content swapped out)
// behind.
func TestForceFailureKeepsOld(t *testing.T) {
	store := exporttest.NewDirStore(t.TempDir())
	in := input(t, sourceTree(t))
	parent := t.TempDir()
	dest := filepath.Join(parent, "layout")
	must(t, os.Mkdir(dest, 0o755))
	must(t, os.WriteFile(filepath.Join(dest, "old"), []byte("keep"), 0o644))
	o, err := export.ParseOutput("type=oci,dest=" + dest + ",force=true")
	must(t, err)
	img, err := export.Assemble(store, in, o.AssembleOptions())
	must(t, err)
	blob := store.BlobPath(img.Manifests[0].Layers[0].Digest)
	saved, err := os.ReadFile(blob)
	must(t, err)
	must(t, os.Remove(blob))
	if _, err := export.ExportImage(context.Background(), o, store, img, epoch); err == nil {
		t.Fatal("forced export with a missing blob succeeded")
	}
	if b, err := os.ReadFile(filepath.Join(dest, "old")); err != nil || string(b) != "keep" {
		t.Fatalf("a failed forced export changed the old destination: %q, %v", b, err)
	}
	must(t, os.WriteFile(blob, saved, 0o444))
	if _, err := export.ExportImage(context.Background(), o, store, img, epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dest, "old")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("force=true kept the old content")
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 || ents[0].Name() != "layout" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left next to the destination: %v", names)
	}
}

// TestDockerConfigFields checks docker's Healthcheck, Shell and OnBuild:
// a base's Healthcheck and Shell are kept, its OnBuild dropped (FROM
// consumes it), and the block's replace them, written last in config.
func TestDockerConfigFields(t *testing.T) {
	store := exporttest.NewDirStore(t.TempDir())
	baseTar := exporttest.TarOf(epoch, exporttest.Entry{Name: "base", Type: tar.TypeReg, Mode: 0o644, Data: "base"})
	baseCfg := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Healthcheck":{"Test":["CMD","/base-check"],"Interval":1000000000},"OnBuild":["RUN base"],"Shell":["/bin/ash","-c"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}`, baseTar.DiffID())
	assemble := func(spec export.ImageSpec) string {
		t.Helper()
		in := &export.ImageInput{Spec: spec, SourceDateEpoch: epoch,
			Platforms: []export.PlatformInput{{Platform: amd64, BaseConfig: []byte(baseCfg), Layers: []export.LayerInput{{Layer: baseTar}}}}}
		img, err := export.Assemble(store, in, export.AssembleOptions{})
		must(t, err)
		cfg := string(img.Manifests[0].Config)
		return cfg[strings.Index(cfg, `"config":`):strings.Index(cfg, `,"rootfs"`)]
	}
	if got, want := assemble(export.ImageSpec{}), `"config":{"Env":["PATH=/bin"],"Healthcheck":{"Test":["CMD","/base-check"],"Interval":1000000000},"Shell":["/bin/ash","-c"]}`; got != want {
		t.Errorf("inherited:\n got %s\nwant %s", got, want)
	}
	got := assemble(export.ImageSpec{Healthcheck: &export.Healthcheck{Test: []string{"NONE"}}, Shell: []string{"/bin/sh", "-ec"}, OnBuild: []string{"RUN make"}})
	if want := `"config":{"Env":["PATH=/bin"],"Healthcheck":{"Test":["NONE"]},"OnBuild":["RUN make"],"Shell":["/bin/sh","-ec"]}`; got != want {
		t.Errorf("set:\n got %s\nwant %s", got, want)
	}
}
