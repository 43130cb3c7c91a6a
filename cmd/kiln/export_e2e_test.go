package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/internal/testutil"
)

// These tests drive `kiln build` on the real examples and check what it
// exports with tools kiln did not write: skopeo, umoci, runc, podman and
// Debian's docker-registry. The kiln they run is this test binary, on PATH
// through testscript.Main.

const exampleEpoch = "2023-11-14T22:13:20Z" // the examples' source_date_epoch

// kilnRun runs kiln in dir with extra environment and returns its stdout,
// stderr and exit code.
func kilnRun(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command("kiln", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CI=", "NO_COLOR=1", "SOURCE_DATE_EPOCH=")
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running kiln %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// kilnOK runs kiln and fails the test unless it succeeds.
func kilnOK(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, errs, code := kilnRun(t, dir, env, args...)
	if code != 0 {
		t.Fatalf("kiln %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func needTools(t *testing.T, names ...string) {
	t.Helper()
	testutil.RequireRoot(t)
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is not installed (scripts/test.sh installs it): %v", n, err)
		}
	}
}

// copyExample copies examples/NAME to dst with a fresh busybox rootfs.
func copyExample(t *testing.T, name, dst string) string {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", filepath.Join("..", "..", "examples", name)+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copying example %s: %v\n%s", name, err, out)
	}
	os.RemoveAll(filepath.Join(dst, "rootfs"))
	if err := testutil.WriteBusyboxRootfs(filepath.Join(dst, "rootfs"), testutil.Busybox(t)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// metadata is the part of --metadata-file the tests read.
type metadata struct {
	Digest       string            `json:"containerimage.digest"`
	ConfigDigest string            `json:"containerimage.config.digest"`
	TarSHA256    string            `json:"artifact.tar.sha256"`
	SHA256       map[string]string `json:"artifact.sha256"`
}

// layoutManifest reads the manifest and config an OCI layout's index.json
// points at (its only image).
func layoutManifest(t *testing.T, dir string) (ocispec.Manifest, ocispec.Image) {
	t.Helper()
	var idx ocispec.Index
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	if len(idx.Manifests) == 0 {
		t.Fatalf("%s/index.json names no image", dir)
	}
	blob := func(d fmt.Stringer) string {
		return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d.String(), "sha256:"))
	}
	var m ocispec.Manifest
	readJSON(t, blob(idx.Manifests[0].Digest), &m)
	var c ocispec.Image
	readJSON(t, blob(m.Config.Digest), &c)
	return m, c
}

// listing describes each path under dir: type, mode, and content (hashed
// when long) or link target.
func listing(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
			out[rel] = fmt.Sprintf("dir %v", fi.Mode())
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if len(b) > 64 {
				h := sha256.Sum256(b)
				b = []byte(hex.EncodeToString(h[:]))
			}
			out[rel] = fmt.Sprintf("file %v %s", fi.Mode(), b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffListing(want, got map[string]string) string {
	var lines []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			lines = append(lines, fmt.Sprintf("%s: missing (want %q)", k, v))
		} else if g != v {
			lines = append(lines, fmt.Sprintf("%s: want %q, got %q", k, v, g))
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

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestExportExamples exports the examples through `kiln build` to every
// output type and checks each with outside tools.
func TestExportExamples(t *testing.T) {
	needTools(t, "skopeo", "umoci", "docker-registry")
	reg := testutil.StartRegistry(t)
	env := []string{"KILN_STORE=" + filepath.Join(t.TempDir(), "store")}

	t.Run("service", func(t *testing.T) {
		dir := copyExample(t, "service", filepath.Join(t.TempDir(), "service"))
		out := t.TempDir()
		o := func(p string) string { return filepath.Join(out, p) }
		kilnOK(t, dir, env, "build", "--progress", "plain", "--metadata-file", o("md.json"),
			"-o", "type=oci,dest="+o("oci")+",name=kiln.test/service:1",
			"-o", "type=oci,dest="+o("oci.tar")+",name=kiln.test/service:1",
			"-o", "type=local,dest="+o("local"),
			"-o", "type=tar,dest="+o("files.tar"))
		var md metadata
		readJSON(t, o("md.json"), &md)
		if !strings.HasPrefix(md.Digest, "sha256:") || !strings.HasPrefix(md.ConfigDigest, "sha256:") {
			t.Fatalf("metadata: %+v", md)
		}

		// The image config says what the image block says, every time the
		// epoch, and nothing about the host that built it.
		m, cfg := layoutManifest(t, o("oci"))
		c := cfg.Config
		if strings.Join(c.Entrypoint, " ") != "/bin/service" || strings.Join(c.Cmd, " ") != "--port 8080" ||
			strings.Join(c.Env, " ") != "PATH="+export.DefaultPath+" SERVICE_MODE=production" || c.WorkingDir != "/var/lib/service" ||
			c.Labels["org.opencontainers.image.title"] != "service" || len(c.ExposedPorts) != 1 {
			t.Errorf("image config: %+v", c)
		}
		if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
			t.Errorf("exposed ports: %v", c.ExposedPorts)
		}
		if cfg.Created == nil || cfg.Created.UTC().Format(time.RFC3339) != exampleEpoch || cfg.OS != "linux" || cfg.Architecture != "amd64" {
			t.Errorf("config created/platform: %v %s/%s", cfg.Created, cfg.OS, cfg.Architecture)
		}
		if m.Annotations[ocispec.AnnotationCreated] != exampleEpoch {
			t.Errorf("manifest annotations: %v", m.Annotations)
		}
		host, _ := os.Hostname()
		if len(cfg.History) != len(m.Layers) || len(m.Layers) != 4 {
			t.Errorf("%d history entries, %d layers, want 4 each", len(cfg.History), len(m.Layers))
		}
		for _, h := range cfg.History {
			if h.Created == nil || h.Created.UTC().Format(time.RFC3339) != exampleEpoch ||
				!strings.HasPrefix(h.CreatedBy, "kiln: ") || strings.Contains(h.CreatedBy, dir) ||
				strings.Contains(h.CreatedBy, os.TempDir()) || (host != "" && strings.Contains(h.CreatedBy, host)) {
				t.Errorf("history entry %+v is not host-independent", h)
			}
		}

		// skopeo reads the layout and the archive, copies them elsewhere
		// and back without changing a digest.
		for _, ref := range []string{"oci:" + o("oci") + ":1", "oci-archive:" + o("oci.tar") + ":1"} {
			if got := strings.TrimSpace(tool(t, "skopeo", "inspect", "--format", "{{.Digest}}", ref)); got != md.Digest {
				t.Errorf("skopeo inspect %s: %s, kiln said %s", ref, got, md.Digest)
			}
			cp := filepath.Join(t.TempDir(), "copy")
			tool(t, "skopeo", "copy", "--preserve-digests", ref, "oci:"+cp+":copied")
			back := filepath.Join(t.TempDir(), "back.tar")
			tool(t, "skopeo", "copy", "--preserve-digests", "oci:"+cp+":copied", "oci-archive:"+back+":1")
			for _, r := range []string{"oci:" + cp + ":copied", "oci-archive:" + back + ":1"} {
				if got := strings.TrimSpace(tool(t, "skopeo", "inspect", "--format", "{{.Digest}}", r)); got != md.Digest {
					t.Errorf("after skopeo copy of %s: %s is %s, want %s", ref, r, got, md.Digest)
				}
			}
		}

		// umoci unpacks the image to the files the state holds (as
		// type=local wrote them).
		bundle := filepath.Join(t.TempDir(), "bundle")
		tool(t, "umoci", "unpack", "--image", o("oci")+":1", bundle)
		want := listing(t, o("local"))
		if diff := diffListing(want, listing(t, filepath.Join(bundle, "rootfs"))); diff != "" {
			t.Errorf("umoci unpack differs from type=local:\n%s", diff)
		}
		if want["etc/service.conf"] != "file -rw-r--r-- port=8080\n" || !strings.HasPrefix(want["bin/service"], "file -rwx") {
			t.Errorf("type=local: etc/service.conf %q, bin/service %q", want["etc/service.conf"], want["bin/service"])
		}
		// type=tar holds the same files: unpack it with tar(1).
		untar := t.TempDir()
		tool(t, "tar", "-xpf", o("files.tar"), "-C", untar)
		if diff := diffListing(want, listing(t, untar)); diff != "" {
			t.Errorf("type=tar differs from type=local:\n%s", diff)
		}
		runBundle(t, bundle, "/etc/service.conf", "port=8080")

		// dest=- writes the same tar to stdout, and nothing else.
		stdout := kilnOK(t, dir, env, "build", "-o", "type=tar,dest=-")
		if stdout != string(mustRead(t, o("files.tar"))) {
			t.Errorf("type=tar,dest=- wrote %d bytes, type=tar,dest=FILE %d", len(stdout), len(mustRead(t, o("files.tar"))))
		}

		// The docker archive: same config, same layers, docker media types.
		kilnOK(t, dir, env, "build", "-o", "type=docker,dest="+o("docker.tar")+",name=kiln.test/service:1")
		var dcfg ocispec.Image
		if err := json.Unmarshal([]byte(tool(t, "skopeo", "inspect", "--config", "docker-archive:"+o("docker.tar"))), &dcfg); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(dcfg.RootFS.DiffIDs) != fmt.Sprint(cfg.RootFS.DiffIDs) || fmt.Sprint(dcfg.Config) != fmt.Sprint(cfg.Config) {
			t.Errorf("docker archive config differs from the OCI one:\n%+v\n%+v", dcfg, cfg)
		}
		podmanLoadRun(t, o("docker.tar"), "kiln.test/service:1")

		// The registry: kiln pushes, a pull by digest gives the same image.
		ref := reg.Addr + "/service:1"
		kilnOK(t, dir, env, "build", "--metadata-file", o("md-reg.json"), "-o", "type=registry,name="+ref+",registry.insecure=true")
		var mdr metadata
		readJSON(t, o("md-reg.json"), &mdr)
		if mdr.Digest != md.Digest {
			t.Errorf("pushed %s, the OCI layout is %s", mdr.Digest, md.Digest)
		}
		byDigest, err := name.ParseReference(reg.Addr+"/service@"+md.Digest, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(byDigest)
		if err != nil {
			t.Fatalf("pulling %s: %v", byDigest, err)
		}
		if d, _ := img.Digest(); d.String() != md.Digest {
			t.Errorf("pulled %s, pushed %s", d, md.Digest)
		}
		if d, _ := img.ConfigName(); d.String() != md.ConfigDigest {
			t.Errorf("pulled config %s, want %s", d, md.ConfigDigest)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			local := mustRead(t, filepath.Join(o("oci"), "blobs", "sha256", m.Layers[i].Digest.Encoded()))
			if !bytes.Equal(b, local) {
				t.Errorf("layer %d pulled from the registry differs from the layout's blob", i)
			}
		}
		pulled := filepath.Join(t.TempDir(), "pulled")
		tool(t, "skopeo", "copy", "--src-tls-verify=false", "--preserve-digests", "docker://"+reg.Addr+"/service@"+md.Digest, "oci:"+pulled+":1")
		if got := strings.TrimSpace(tool(t, "skopeo", "inspect", "--format", "{{.Digest}}", "oci:"+pulled+":1")); got != md.Digest {
			t.Errorf("skopeo pull by digest: %s, want %s", got, md.Digest)
		}
	})

	t.Run("static-site", func(t *testing.T) {
		dir := copyExample(t, "static-site", filepath.Join(t.TempDir(), "static-site"))
		out := t.TempDir()
		o := func(p string) string { return filepath.Join(out, p) }
		kilnOK(t, dir, env, "build", "--metadata-file", o("md.json"), "-o", "type=local,dest="+o("site"), "-o", "type=tar,dest="+o("site.tar"))
		var md metadata
		readJSON(t, o("md.json"), &md)
		if md.TarSHA256 != sha256File(t, o("site.tar")) {
			t.Errorf("artifact.tar.sha256 %s is not the tar's sha256 %s", md.TarSHA256, sha256File(t, o("site.tar")))
		}
		want := listing(t, o("site"))
		if !strings.HasPrefix(want["index.html"], "file -rw-r--r--") || !strings.HasPrefix(want["about.html"], "file -rw-r--r--") {
			t.Errorf("type=local of the site: %v", want)
		}
		untar := t.TempDir()
		tool(t, "tar", "-xpf", o("site.tar"), "-C", untar)
		if diff := diffListing(want, listing(t, untar)); diff != "" {
			t.Errorf("type=tar differs from type=local:\n%s", diff)
		}
		_, errs, code := kilnRun(t, dir, env, "build", "-o", "type=oci,dest="+o("site.oci"))
		if code != 2 || !strings.Contains(errs, "artifact.site is not an image") {
			t.Errorf("type=oci of an artifact: exit %d, %s", code, errs)
		}
		if _, err := os.Stat(o("site.oci")); err == nil {
			t.Errorf("a refused export left %s behind", o("site.oci"))
		}
	})

	t.Run("shell-tool", func(t *testing.T) {
		dir := copyExample(t, "shell-tool", filepath.Join(t.TempDir(), "shell-tool"))
		out := t.TempDir()
		o := func(p string) string { return filepath.Join(out, p) }
		kilnOK(t, dir, env, "build", "tool", "-o", "type=oci,dest="+o("tool.oci")+",name=kiln.test/tool:1")
		kilnOK(t, dir, env, "build", "tarball", "-o", "type=tar,dest="+o("tool.tar"), "-o", "type=local,dest="+o("tool"))
		if got := listing(t, o("tool")); !strings.HasPrefix(got["wordfreq-1.2.0/bin/wordfreq"], "file -rwxr-xr-x") || got["wordfreq-1.2.0/share/VERSION"] != "file -rw-r--r-- 1.2.0\n" || len(got) != 5 {
			t.Errorf("tarball files: %v", got)
		}
		_, cfg := layoutManifest(t, o("tool.oci"))
		if strings.Join(cfg.Config.Entrypoint, " ") != "/usr/local/bin/wordfreq" || cfg.Config.Labels["org.opencontainers.image.version"] != "1.2.0" {
			t.Errorf("tool image config: %+v", cfg.Config)
		}
		bundle := filepath.Join(t.TempDir(), "bundle")
		tool(t, "umoci", "unpack", "--image", o("tool.oci")+":1", bundle)
		runBundle(t, bundle, "/usr/local/share/wordfreq/VERSION", "1.2.0")

		// --output applies to every target: two targets cannot share
		// one dest, and the usage error says what to do instead.
		_, errs, code := kilnRun(t, dir, env, "build", "release", "-o", "type=tar,dest="+o("both.tar"))
		if code != 2 || !strings.Contains(errs, "give each target its own output with -o") {
			t.Errorf("--output with two targets: exit %d, %s", code, errs)
		}
		// Outputs declared in the blocks, relative to build.hcl's folder,
		// written for every target of the group, also when kiln runs from
		// another folder with -f.
		hcl := string(mustRead(t, filepath.Join(dir, "build.hcl")))
		hcl = strings.Replace(hcl, "image \"tool\" {\n", "image \"tool\" {\n  output = [\"type=oci,dest=dist/tool.tar\", \"type=docker,dest=dist/tool-docker.tar,name=kiln.test/tool:1\"]\n", 1)
		hcl = strings.Replace(hcl, "artifact \"tarball\" {\n", "artifact \"tarball\" {\n  output = [\"type=tar,dest=dist/tarball.tar\"]\n", 1)
		if err := os.WriteFile(filepath.Join(dir, "build.hcl"), []byte(hcl), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "dist"), 0o755); err != nil {
			t.Fatal(err)
		}
		kilnOK(t, t.TempDir(), env, "build", "-f", filepath.Join(dir, "build.hcl"), "release")
		if !bytes.Equal(mustRead(t, filepath.Join(dir, "dist", "tarball.tar")), mustRead(t, o("tool.tar"))) {
			t.Errorf("declared type=tar output differs from --output type=tar")
		}
		if got := strings.TrimSpace(tool(t, "skopeo", "inspect", "--format", "{{.Digest}}", "oci-archive:"+filepath.Join(dir, "dist", "tool.tar"))); got != strings.TrimSpace(tool(t, "skopeo", "inspect", "--format", "{{.Digest}}", "oci:"+o("tool.oci")+":1")) {
			t.Errorf("declared type=oci output: digest %s differs from --output's", got)
		}
		tool(t, "skopeo", "inspect", "docker-archive:"+filepath.Join(dir, "dist", "tool-docker.tar"))
		// A second build does not overwrite them without --force...
		_, errs, code = kilnRun(t, dir, env, "build", "release")
		if code != 1 || !strings.Contains(errs, "destination exists") {
			t.Errorf("declared outputs that exist: exit %d, %s", code, errs)
		}
		// ...and does with it.
		kilnOK(t, dir, env, "build", "--force", "release")
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runBundle runs an umoci-unpacked image with runc, printing file, and
// checks the output. umoci's runtime config asks for RLIMIT_NOFILE, which
// this CI host does not let a container set (podman fails on the same), so
// the rlimits are dropped; namespaces stay as umoci wrote them.
func runBundle(t *testing.T, bundle, file, want string) {
	t.Helper()
	if _, err := exec.LookPath("runc"); err != nil {
		t.Log("runc is not installed: not running the image")
		return
	}
	p := filepath.Join(bundle, "config.json")
	var spec map[string]any
	readJSON(t, p, &spec)
	proc := spec["process"].(map[string]any)
	delete(proc, "rlimits")
	proc["terminal"] = false
	proc["args"] = []string{"/bin/busybox", "cat", file}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("kiln-export-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd := exec.Command("runc", "--root", t.TempDir(), "run", id)
	cmd.Dir = bundle
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("runc run of the unpacked image: %v\n%s", err, got)
	}
	if strings.TrimSpace(string(got)) != want {
		t.Errorf("the image printed %q, want %q", got, want)
	}
}

// podmanLoadRun loads a docker archive into a throw-away podman store and
// tries to run it. On this CI host runc inside podman cannot set the
// rlimits podman asks for (seen with --ulimit host too): then the run is
// logged, not failed; the load must pass.
func podmanLoadRun(t *testing.T, archive, ref string) {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Log("podman is not installed: docker archive checked with skopeo only")
		return
	}
	graph := t.TempDir()
	podman := func(args ...string) (string, error) {
		args = append([]string{"--storage-driver", "vfs", "--root", graph, "--runroot", filepath.Join(graph, "run"), "--cgroup-manager", "cgroupfs", "--events-backend", "none"}, args...)
		out, err := exec.Command("podman", args...).CombinedOutput()
		return string(out), err
	}
	defer podman("rmi", "-a", "-f")
	if out, err := podman("load", "-i", archive); err != nil || !strings.Contains(out, "Loaded image: "+ref) {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	out, err := podman("run", "--rm", "--network", "none", "--ulimit", "host", "--entrypoint", "/bin/busybox", ref, "cat", "/etc/service.conf")
	switch {
	case err == nil && strings.TrimSpace(out) == "port=8080":
	case err != nil && strings.Contains(out, "error setting rlimit"):
		t.Logf("podman loaded %s but cannot start containers on this host: %s", ref, strings.TrimSpace(out))
	default:
		t.Errorf("podman run: %v\n%s", err, out)
	}
}

// TestExportReproducible builds and exports the shell-tool example (an
// image and a tarball) twice, from two stores and folders, with different
// TZ, umask, hostname, -j and wall clock, and compares every byte.
func TestExportReproducible(t *testing.T) {
	needTools(t, "unshare")
	type run struct {
		dir, tz, umask, host, jobs string
	}
	runs := []run{
		{filepath.Join(t.TempDir(), "shell-tool"), "UTC", "022", "kiln-a", "1"},
		{filepath.Join(t.TempDir(), "else", "where", "tool"), "Asia/Kathmandu", "077", "other-host", "2"},
	}
	outs := make([]string, len(runs))
	for i, r := range runs {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		copyExample(t, "shell-tool", r.dir)
		// The image block's own compression attribute: the same image,
		// zstd by the block, must be byte for byte the -o compression=zstd one.
		hcl := string(mustRead(t, filepath.Join(r.dir, "build.hcl")))
		hcl += "\nimage \"tool_zstd\" {\n  from        = stage.tested\n  entrypoint  = [\"/usr/local/bin/wordfreq\"]\n  compression = \"zstd\"\n  labels = {\n    \"org.opencontainers.image.version\" = var.VERSION\n  }\n}\n"
		if err := os.WriteFile(filepath.Join(r.dir, "build.hcl"), []byte(hcl), 0o644); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		outs[i] = out
		o := func(p string) string { return filepath.Join(out, p) }
		var script strings.Builder
		fmt.Fprintf(&script, "set -e\numask %s\n", r.umask)
		hostname := "hostname " + r.host + "\n"
		if exec.Command("unshare", "--uts", "true").Run() != nil {
			t.Log("unshare --uts fails here: the hostname stays the same in both runs")
			hostname = ""
		}
		script.WriteString(hostname)
		for _, c := range []string{"gzip", "zstd", "estargz", "uncompressed"} {
			fmt.Fprintf(&script, "kiln build -j %s --metadata-file %s -o type=oci,dest=%s,name=kiln.test/tool:1,compression=%s tool\n", r.jobs, o(c+".json"), o(c+".tar"), c)
		}
		fmt.Fprintf(&script, "kiln build -j %s -o type=docker,dest=%s,name=kiln.test/tool:1 tool\n", r.jobs, o("docker.tar"))
		fmt.Fprintf(&script, "kiln build -j %s --metadata-file %s -o type=oci,dest=%s,name=kiln.test/tool:1 tool_zstd\n", r.jobs, o("block.json"), o("block.tar"))
		fmt.Fprintf(&script, "kiln build -j %s -o type=tar,dest=%s tarball\n", r.jobs, o("tarball.tar"))
		cmd := exec.Command("unshare", "--uts", "sh", "-c", script.String())
		if hostname == "" {
			cmd = exec.Command("sh", "-c", script.String())
		}
		cmd.Dir = r.dir
		cmd.Env = append(os.Environ(), "CI=", "SOURCE_DATE_EPOCH=", "TZ="+r.tz, "KILN_STORE="+filepath.Join(t.TempDir(), "store"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, b)
		}
	}
	files, err := os.ReadDir(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 12 {
		t.Fatalf("want 12 outputs, got %d", len(files))
	}
	digests := map[string]string{}
	for _, f := range files {
		a, b := mustRead(t, filepath.Join(outs[0], f.Name())), mustRead(t, filepath.Join(outs[1], f.Name()))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the two builds", f.Name())
		}
		if strings.HasSuffix(f.Name(), ".json") {
			var md metadata
			readJSON(t, filepath.Join(outs[0], f.Name()), &md)
			digests[strings.TrimSuffix(f.Name(), ".json")] = md.Digest
		}
	}
	if digests["block"] != digests["zstd"] || !bytes.Equal(mustRead(t, filepath.Join(outs[0], "block.tar")), mustRead(t, filepath.Join(outs[0], "zstd.tar"))) {
		t.Errorf("compression = \"zstd\" in the image block gave %s, -o compression=zstd %s", digests["block"], digests["zstd"])
	}
	seen := map[string]bool{}
	for _, c := range []string{"gzip", "zstd", "estargz", "uncompressed"} {
		if seen[digests[c]] {
			t.Errorf("compression=%s gave the same digest as another compression", c)
		}
		seen[digests[c]] = true
	}
	t.Logf("manifest digests: %v", digests)
}

// TestExportBaseImage builds on images kiln exported itself, from an OCI
// layout and from a registry: the base layers ship as the base's own
// blobs, never recompressed, and the base config is extended as Docker
// does.
func TestExportBaseImage(t *testing.T) {
	needTools(t, "skopeo", "umoci", "docker-registry")
	reg := testutil.StartRegistry(t)
	env := []string{"KILN_STORE=" + filepath.Join(t.TempDir(), "store")}
	svc := copyExample(t, "service", filepath.Join(t.TempDir(), "service"))
	proj := t.TempDir()
	// The bases use compressions the derived image does not, so a
	// recompressed base layer cannot go unnoticed.
	kilnOK(t, svc, env, "build", "-o", "type=oci,dest="+filepath.Join(proj, "base")+",name=kiln.test/service:1,compression=zstd")
	kilnOK(t, svc, env, "build", "-o", "type=registry,name="+reg.Addr+"/service:1,registry.insecure=true,compression=estargz")
	kilnOK(t, svc, env, "build", "-o", "type=oci,dest="+filepath.Join(proj, "service-gzip"))
	hcl := fmt.Sprintf(`kiln {
  source_date_epoch = 1700000100
  platform          = "linux/amd64"
}

source "oci-layout" "base" {
  path = "base"
}

source "image" "pushed" {
  ref = "%s/service:1"
}

stage "layout" {
  from = source.oci-layout.base
  run {
    shell = "echo derived > /derived.txt"
  }
}

stage "registry" {
  from = source.image.pushed
  run {
    shell = "echo derived > /derived.txt"
  }
}

image "from_layout" {
  from   = stage.layout
  cmd    = ["--port", "9090"]
  env    = { EXTRA = "1", SERVICE_MODE = "test" }
  labels = { "kiln.test" = "derived" }
}

image "from_registry" {
  from   = stage.registry
  cmd    = ["--port", "9090"]
  env    = { EXTRA = "1", SERVICE_MODE = "test" }
  labels = { "kiln.test" = "derived" }
}
`, reg.Addr)
	if err := os.WriteFile(filepath.Join(proj, "build.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	kilnOK(t, proj, env, "lock")
	out := t.TempDir()
	kilnOK(t, proj, env, "build", "from_layout", "-o", "type=oci,dest="+filepath.Join(out, "layout")+",name=kiln.test/derived:1")
	kilnOK(t, proj, env, "build", "from_registry", "-o", "type=oci,dest="+filepath.Join(out, "registry")+",name=kiln.test/derived:1")

	baseM, baseC := layoutManifest(t, filepath.Join(proj, "base"))
	pulled := filepath.Join(t.TempDir(), "pulled")
	tool(t, "skopeo", "copy", "--src-tls-verify=false", "--preserve-digests", "docker://"+reg.Addr+"/service:1", "oci:"+pulled+":1")
	regM, regC := layoutManifest(t, pulled)
	for _, tc := range []struct {
		name          string
		base          ocispec.Manifest
		baseC         ocispec.Image
		wantMediaType string
	}{
		{"layout", baseM, baseC, ocispec.MediaTypeImageLayerZstd},
		{"registry", regM, regC, ocispec.MediaTypeImageLayerGzip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(out, tc.name)
			m, c := layoutManifest(t, dir)
			n := len(tc.base.Layers)
			if len(m.Layers) != n+1 {
				t.Fatalf("%d layers, want the base's %d plus one", len(m.Layers), n)
			}
			for i, l := range tc.base.Layers {
				got := m.Layers[i]
				if got.Digest != l.Digest || got.Size != l.Size || got.MediaType != tc.wantMediaType || fmt.Sprint(got.Annotations) != fmt.Sprint(l.Annotations) {
					t.Errorf("base layer %d: %+v, the base's is %+v", i, got, l)
				}
			}
			if m.Layers[n].MediaType != ocispec.MediaTypeImageLayerGzip {
				t.Errorf("new layer: %+v", m.Layers[n])
			}
			if fmt.Sprint(c.RootFS.DiffIDs[:n]) != fmt.Sprint(tc.baseC.RootFS.DiffIDs) || len(c.History) != len(tc.baseC.History)+1 {
				t.Errorf("diff_ids/history do not extend the base's: %v / %d entries", c.RootFS.DiffIDs, len(c.History))
			}
			for i, h := range tc.baseC.History {
				if fmt.Sprint(c.History[i]) != fmt.Sprint(h) {
					t.Errorf("history %d: %+v, the base's is %+v", i, c.History[i], h)
				}
			}
			if h := c.History[n]; !strings.HasPrefix(h.CreatedBy, "kiln: stage."+tc.name+"/run[0]") || h.Created.UTC().Format(time.RFC3339) != "2023-11-14T22:15:00Z" {
				t.Errorf("new history entry: %+v", h)
			}
			cc := c.Config
			if strings.Join(cc.Entrypoint, " ") != "/bin/service" || strings.Join(cc.Cmd, " ") != "--port 9090" ||
				strings.Join(cc.Env, " ") != "PATH="+export.DefaultPath+" SERVICE_MODE=test EXTRA=1" || cc.WorkingDir != "/var/lib/service" ||
				cc.Labels["org.opencontainers.image.title"] != "service" || cc.Labels["kiln.test"] != "derived" {
				t.Errorf("config does not extend the base's as Docker does: %+v", cc)
			}
			if _, ok := cc.ExposedPorts["8080/tcp"]; !ok {
				t.Errorf("exposed ports of the base lost: %v", cc.ExposedPorts)
			}
			tool(t, "skopeo", "inspect", "oci:"+dir+":1")
			if tc.wantMediaType == ocispec.MediaTypeImageLayerZstd {
				// Debian 12's umoci cannot read zstd layers: unpack the
				// same image with its base recompressed as gzip.
				dir = filepath.Join(t.TempDir(), "gzip")
				kilnOK(t, proj, env, "build", "from_"+tc.name, "-o", "type=oci,dest="+dir+",name=kiln.test/derived:1,compression=gzip,force-compression=true")
			}
			bundle := filepath.Join(t.TempDir(), "bundle")
			tool(t, "umoci", "unpack", "--image", dir+":1", bundle)
			files := listing(t, filepath.Join(bundle, "rootfs"))
			if files["derived.txt"] != "file -rw-r--r-- derived\n" || files["etc/service.conf"] != "file -rw-r--r-- port=8080\n" {
				t.Errorf("unpacked derived image: derived.txt %q, etc/service.conf %q", files["derived.txt"], files["etc/service.conf"])
			}
		})
	}

	// force-compression recompresses the base's own tars: gzip at kiln's
	// settings gives the blobs of the base exported as gzip in the first
	// place.
	forced := filepath.Join(out, "forced")
	kilnOK(t, proj, env, "build", "from_layout", "-o", "type=oci,dest="+forced+",compression=gzip,force-compression=true")
	fm, _ := layoutManifest(t, forced)
	gm, _ := layoutManifest(t, filepath.Join(proj, "service-gzip"))
	for i, l := range gm.Layers {
		if fm.Layers[i].Digest != l.Digest {
			t.Errorf("force-compression: base layer %d is %s, the gzip export of the base has %s", i, fm.Layers[i].Digest, l.Digest)
		}
	}
}
