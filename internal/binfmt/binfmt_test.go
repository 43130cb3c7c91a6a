package binfmt

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/platform"
)

var amd64 = platform.Platform{OS: "linux", Architecture: "amd64"}

func mustParse(t *testing.T, s string) platform.Platform {
	t.Helper()
	p, err := platform.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// copyTable copies testdata/debian12 (Debian 12's qemu-user-static
// registrations, as the kernel shows them) to a folder a test may change.
func copyTable(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	des, err := os.ReadDir("testdata/debian12")
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join("testdata/debian12", de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, de.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func detect(t *testing.T, dir string) *Machine {
	t.Helper()
	m, err := Detect(amd64, dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDebianTable: with Debian's registrations every architecture they
// name runs, in every spelling kiln accepts; the host runs natively; an
// architecture nothing emulates does not.
func TestDebianTable(t *testing.T) {
	m := detect(t, copyTable(t))
	for _, tc := range []struct {
		platform, handler string
	}{
		{"linux/arm64", "qemu-aarch64"},
		{"linux/aarch64", "qemu-aarch64"},
		{"linux/arm64/v8", "qemu-aarch64"},
		{"linux/arm/v7", "qemu-arm"},
		{"linux/arm/v6", "qemu-arm"},
		{"linux/s390x", "qemu-s390x"},
		{"linux/riscv64", "qemu-riscv64"},
		{"linux/ppc64le", "qemu-ppc64le"},
		{"linux/ppc64", "qemu-ppc64"},
		{"linux/mips64le", "qemu-mips64el"},
		{"linux/mips64", "qemu-mips64"},
		{"linux/mipsle", "qemu-mipsel"},
		{"linux/mips", "qemu-mips"},
		{"linux/loong64", "qemu-loongarch64"},
	} {
		p := mustParse(t, tc.platform)
		if err := m.Check(p); err != nil {
			t.Errorf("Check(%s): %v", tc.platform, err)
		}
		if e, ok := m.Emulator(p); !ok || e.Name != tc.handler {
			t.Errorf("Emulator(%s) = %q, %v; want %s", tc.platform, e.Name, ok, tc.handler)
		}
	}
	for _, s := range []string{"linux/amd64", "linux/x86_64", "linux/amd64/v3"} {
		if err := m.Check(mustParse(t, s)); err != nil {
			t.Errorf("Check(%s) on an amd64 machine: %v", s, err)
		}
	}
	// Debian registers no i386 emulator on amd64 (the CPU runs it), and
	// kiln does not guess that the kernel has IA32 support.
	err := m.Check(mustParse(t, "linux/386"))
	if err == nil || !strings.Contains(err.Error(), "no binfmt_misc handler") {
		t.Errorf("Check(linux/386) = %v, want no handler", err)
	}
	got := m.Platforms()
	want := []string{"linux/amd64", "linux/arm", "linux/arm64", "linux/loong64", "linux/mips", "linux/mips64", "linux/mips64le", "linux/mipsle", "linux/ppc64", "linux/ppc64le", "linux/riscv64", "linux/s390x"}
	if !slices.Equal(got, want) {
		t.Errorf("Platforms() = %v, want %v", got, want)
	}
}

// TestMissing: each way emulation can be missing gets its own error, and
// each says what to install or run.
func TestMissing(t *testing.T) {
	arm64 := mustParse(t, "linux/arm64")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"not mounted", func(t *testing.T, dir string) {
			for _, n := range []string{"status", "qemu-aarch64", "qemu-arm"} {
				os.Remove(filepath.Join(dir, n))
			}
		}, []string{"binfmt_misc is not mounted at ", "mount -t binfmt_misc binfmt_misc ", "qemu-user-static and binfmt-support", "update-binfmts --enable qemu-aarch64"}},
		{"no handler", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "qemu-aarch64"))
		}, []string{"cannot run linux/arm64 programs", "no binfmt_misc handler in ", "runs arm64 executables", "apt-get install qemu-user-static binfmt-support", "register qemu-aarch64", "update-binfmts --enable qemu-aarch64"}},
		{"handler disabled", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, "qemu-aarch64"), "enabled\n", "disabled\n")
		}, []string{"the binfmt_misc handler qemu-aarch64 for it is disabled", "update-binfmts --enable qemu-aarch64"}},
		{"table disabled", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, "status"), "enabled", "disabled")
		}, []string{"is disabled as a whole", "echo 1 >"}},
		{"no F flag", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, "qemu-aarch64"), "flags: PF", "flags: P")
		}, []string{"inside a sandbox", "qemu-aarch64 (/usr/libexec/qemu-binfmt/aarch64-binfmt-P) lacks the F (fix-binary) flag", "fix_binary yes"}},
		{"a second handler without F", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "qemu-aarch64"))
			b = []byte(strings.Replace(string(b), "flags: PF", "flags: ", 1))
			if err := os.WriteFile(filepath.Join(dir, "zz-aarch64"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"the binfmt_misc handler zz-aarch64", "lacks the F"}},
		{"a handler that matches another architecture", func(t *testing.T, dir string) {
			// Named for aarch64, matching arm: the name is not trusted.
			os.Remove(filepath.Join(dir, "qemu-aarch64"))
			b, _ := os.ReadFile(filepath.Join(dir, "qemu-arm"))
			if err := os.WriteFile(filepath.Join(dir, "qemu-aarch64"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"no binfmt_misc handler in "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyTable(t)
			tc.setup(t, dir)
			err := detect(t, dir).Check(arm64)
			if err == nil {
				t.Fatal("Check(linux/arm64) passed")
			}
			for _, w := range append(tc.want, "this machine runs linux/amd64") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
	m := detect(t, t.TempDir())
	if got := m.Platforms(); !slices.Equal(got, []string{"linux/amd64"}) {
		t.Errorf("Platforms() without binfmt_misc = %v", got)
	}
	if err := m.Check(mustParse(t, "windows/amd64")); err == nil || !strings.Contains(err.Error(), "not other operating systems") {
		t.Errorf("Check(windows/amd64) = %v", err)
	}
	if err := m.Check(mustParse(t, "linux/sparc64")); err == nil || !strings.Contains(err.Error(), "knows no ELF header for architecture sparc64") {
		t.Errorf("Check(linux/sparc64) = %v", err)
	}
}

func rewrite(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseEntryErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"maybe\n", "neither enabled nor disabled"},
		{"enabled\noffset x\n", "offset"},
		{"enabled\noffset 200\n", "offset"},
		{"enabled\nmagic zz\n", "magic"},
		{"enabled\nmagic 7f45\nmask ff\n", "mask has 1 bytes and magic 2"},
	} {
		if _, err := ParseEntry("x", []byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseEntry(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	dir := copyTable(t)
	if err := os.WriteFile(filepath.Join(dir, "broken"), []byte("maybe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Detect(amd64, dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "broken")) {
		t.Errorf("Detect with a malformed handler = %v, want its path", err)
	}
}

// TestThisMachine reads the real table: when scripts/deps.sh has
// registered Debian's emulators, arm64 runs here.
func TestThisMachine(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the expectation is written for an amd64 machine")
	}
	if _, err := os.Stat(filepath.Join(DefaultDir, "qemu-aarch64")); err != nil {
		t.Skip("qemu-user-static is not registered (bash scripts/deps.sh registers it)")
	}
	m, err := Detect(amd64, DefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(mustParse(t, "linux/arm64")); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseEntry(f *testing.F) {
	des, _ := os.ReadDir("testdata/debian12")
	for _, de := range des {
		b, _ := os.ReadFile(filepath.Join("testdata/debian12", de.Name()))
		f.Add(b)
	}
	f.Add([]byte("enabled\ninterpreter /x\nflags: \nextension .jar\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry("f", b)
		if err != nil {
			return
		}
		// Whatever was read, matching must not panic.
		for _, a := range elfArches {
			e.matches(a.header(2))
		}
	})
}
