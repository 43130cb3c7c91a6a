package examples

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/binfmt"
	"github.com/kiln-build/kiln/internal/platform"
)

// TestHelloCMulti builds examples/hello-c-multi: one C program compiled
// by Debian's gcc of each platform (amd64 natively, arm64 under qemu) from
// deb sources locked once per architecture. The lock is current for every
// platform, the arm64 binary prints the example's line under qemu, each
// binary is for its platform, and skopeo sees one index of both.
func TestHelloCMulti(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("building the examples needs root (sandboxes)")
	}
	if *update {
		t.Skip("-update")
	}
	host, err := platform.Parse(compiler.DefaultPlatform())
	if err != nil {
		t.Fatal(err)
	}
	m, err := binfmt.Detect(host, binfmt.DefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"amd64", "arm64"} {
		if err := m.Check(platform.Platform{OS: "linux", Architecture: p}); err != nil {
			t.Skipf("this machine cannot run linux/%s steps (bash scripts/deps.sh registers qemu-user-static): %v", p, err)
		}
	}
	dir, storeDir, out := t.TempDir(), t.TempDir(), t.TempDir()
	copyExample(t, "hello-c-multi", dir)
	if o, err := kiln(t, dir, storeDir, "lock", "--check"); err != nil {
		t.Fatalf("kiln lock --check: the lock does not pin every platform: %v\n%s", err, o)
	}
	o, err := kiln(t, dir, storeDir, "--progress", "plain", "build", "stage.check", "--platform", "linux/arm64")
	if err != nil {
		t.Fatalf("kiln build stage.check --platform linux/arm64: %v\n%s", err, o)
	}
	const line = "| hello from C, built by kiln from Debian packages"
	if !strings.Contains(o, line) {
		t.Errorf("the arm64 binary did not print %q under qemu:\n%s", line, o)
	}
	if o, err := kiln(t, dir, storeDir, "build", "hello", "hello-bin",
		"-o", "hello=type=oci,dest="+filepath.Join(out, "hello.oci"),
		"-o", "hello-bin=type=local,dest="+filepath.Join(out, "bin")); err != nil {
		t.Fatalf("kiln build hello hello-bin: %v\n%s", err, o)
	}
	for plat, machine := range map[string]elf.Machine{"linux_amd64": elf.EM_X86_64, "linux_arm64": elf.EM_AARCH64} {
		f, err := elf.Open(filepath.Join(out, "bin", plat, "hello"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != machine {
			t.Errorf("%s/hello is for %v, want %v", plat, f.Machine, machine)
		}
		f.Close()
	}
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("no skopeo to read the index with")
	}
	raw, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+filepath.Join(out, "hello.oci")).Output()
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
