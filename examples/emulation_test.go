package examples

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/binfmt"
	"github.com/kiln-build/kiln/internal/platform"
)

// TestHelloCArm64 builds examples/hello-c-arm64 on this machine: the
// program compiled by Debian's arm64 gcc under qemu and by the amd64
// cross-compiler, both run under qemu in the arm64 image they ship in and
// print the example's line, and both binaries are arm64 executables.
func TestHelloCArm64(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("building the examples needs root (sandboxes)")
	}
	host, err := platform.Parse(compiler.DefaultPlatform())
	if err != nil {
		t.Fatal(err)
	}
	m, err := binfmt.Detect(host, binfmt.DefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(platform.Platform{OS: "linux", Architecture: "arm64"}); err != nil {
		t.Skipf("this machine cannot run linux/arm64 steps (bash scripts/deps.sh registers qemu-user-static): %v", err)
	}
	if *update {
		t.Skip("-update")
	}
	dir, storeDir := t.TempDir(), t.TempDir()
	copyExample(t, "hello-c-arm64", dir)
	out, err := kiln(t, dir, storeDir, "--progress", "plain", "build", "stage.check")
	if err != nil {
		t.Fatalf("kiln build stage.check: %v\n%s", err, out)
	}
	const line = "| hello from C, built by kiln from Debian packages"
	if n := strings.Count(out, line); n != 2 {
		t.Errorf("%q printed %d times, want twice (the emulated build's binary and the cross-compiled one):\n%s", line, n, out)
	}
	for _, a := range []string{"hello-bin", "hello-cross-bin"} {
		dest := filepath.Join(t.TempDir(), a)
		if out, err := kiln(t, dir, storeDir, "build", "-o", "type=local,dest="+dest, a); err != nil {
			t.Fatalf("kiln build %s: %v\n%s", a, err, out)
		}
		f, err := elf.Open(filepath.Join(dest, "hello"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != elf.EM_AARCH64 {
			t.Errorf("%s is for %v, want EM_AARCH64", a, f.Machine)
		}
		f.Close()
	}
}
