package examples

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoCrossTwoPlatforms builds examples/go-cross, a Go program
// cross-compiled on the build platform for linux/amd64 and linux/arm64,
// in two stores: the OCI layouts are the same bytes, skopeo sees one index
// with both platforms, each binary is for its platform, and the amd64
// image runs under podman where podman works.
func TestGoCrossTwoPlatforms(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("building the examples needs root (sandboxes)")
	}
	if *update {
		t.Skip("-update")
	}
	dir := t.TempDir()
	copyExample(t, "go-cross", dir)
	out := t.TempDir()
	stores := []string{t.TempDir(), t.TempDir()}
	for i, n := range []string{"1", "2"} {
		if o, err := kiln(t, dir, stores[i], "build", "app", "bin",
			"-o", "app=type=oci,dest="+filepath.Join(out, "app"+n+".oci"),
			"-o", "bin=type=local,dest="+filepath.Join(out, "bin"+n)); err != nil {
			t.Fatalf("kiln build (store %s): %v\n%s", n, err, o)
		}
	}
	if o, err := exec.Command("diff", "-r", filepath.Join(out, "app1.oci"), filepath.Join(out, "app2.oci")).CombinedOutput(); err != nil {
		t.Fatalf("the OCI layouts of two stores differ:\n%s", o)
	}
	if o, err := exec.Command("diff", "-r", filepath.Join(out, "bin1"), filepath.Join(out, "bin2")).CombinedOutput(); err != nil {
		t.Fatalf("the binaries of two stores differ:\n%s", o)
	}

	for plat, machine := range map[string]elf.Machine{"linux_amd64": elf.EM_X86_64, "linux_arm64": elf.EM_AARCH64} {
		f, err := elf.Open(filepath.Join(out, "bin1", plat, "go-cross"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != machine {
			t.Errorf("%s/go-cross is for %v, want %v", plat, f.Machine, machine)
		}
		f.Close()
	}

	if _, err := exec.LookPath("skopeo"); err == nil {
		raw, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+filepath.Join(out, "app1.oci")).Output()
		if err != nil {
			t.Fatalf("skopeo inspect --raw: %v", err)
		}
		var idx struct {
			MediaType string
			Manifests []struct {
				Platform struct{ OS, Architecture string }
			}
		}
		if err := json.Unmarshal(raw, &idx); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range idx.Manifests {
			got = append(got, m.Platform.OS+"/"+m.Platform.Architecture)
		}
		if idx.MediaType != "application/vnd.oci.image.index.v1+json" || strings.Join(got, " ") != "linux/amd64 linux/arm64" {
			t.Fatalf("skopeo sees %s with %v, want an index of linux/amd64 linux/arm64:\n%s", idx.MediaType, got, raw)
		}
	}

	podmanRuns(t, dir, stores[0], filepath.Join(out, "docker"))
}

// podmanRuns exports the image as docker archives (one per platform) and
// runs the amd64 one with podman, when podman works on this machine. The
// store is one the image was built in: only the export runs.
func podmanRuns(t *testing.T, dir, store, dest string) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Log("no podman: not loading the image")
		return
	}
	if o, err := exec.Command("podman", "info").CombinedOutput(); err != nil {
		t.Logf("podman does not work here, not loading the image: %v\n%s", err, o)
		return
	}
	if o, err := kiln(t, dir, store, "build", "app", "-o", "type=docker,dest="+dest+",name=localhost/kiln-go-cross:test"); err != nil {
		t.Fatalf("kiln build -o type=docker: %v\n%s", err, o)
	}
	for _, p := range []string{"linux_amd64", "linux_arm64"} {
		if _, err := os.Stat(filepath.Join(dest, p+".tar")); err != nil {
			t.Fatalf("no docker archive for %s: %v", p, err)
		}
	}
	if o, err := exec.Command("podman", "load", "-i", filepath.Join(dest, "linux_amd64.tar")).CombinedOutput(); err != nil {
		t.Fatalf("podman load: %v\n%s", err, o)
	}
	defer exec.Command("podman", "rmi", "-f", "localhost/kiln-go-cross:test").Run()
	o, err := exec.Command("podman", "run", "--rm", "--network=none", "localhost/kiln-go-cross:test").CombinedOutput()
	if err != nil {
		t.Logf("podman run failed here (loading worked): %v\n%s", err, o)
		return
	}
	if got := strings.TrimSpace(string(o)); got != "hello from linux/amd64" {
		t.Fatalf("podman run printed %q, want %q", got, "hello from linux/amd64")
	}
}
