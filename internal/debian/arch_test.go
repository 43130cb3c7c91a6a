package debian

import (
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/platform"
)

func TestArchFor(t *testing.T) {
	for _, tc := range []struct{ platform, want string }{
		{"linux/amd64", "amd64"},
		{"linux/x86_64", "amd64"},
		{"linux/amd64/v3", "amd64"},
		{"linux/arm64", "arm64"},
		{"linux/arm64/v8", "arm64"},
		{"linux/aarch64", "arm64"},
		{"linux/arm", "armhf"},
		{"linux/arm/v7", "armhf"},
		{"linux/arm/v6", "armel"},
		{"linux/386", "i386"},
		{"linux/ppc64le", "ppc64el"},
		{"linux/s390x", "s390x"},
		{"linux/riscv64", "riscv64"},
		{"linux/mips64le", "mips64el"},
	} {
		p, err := platform.Parse(tc.platform)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ArchFor(p); err != nil || got != tc.want {
			t.Errorf("ArchFor(%s) = %q, %v; want %s", tc.platform, got, err, tc.want)
		}
	}
	for _, s := range []string{"windows/amd64", "linux/sparc64", "linux/ppc64"} {
		p, _ := platform.Parse(s)
		if _, err := ArchFor(p); err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("ArchFor(%s) = %v, want an error naming it", s, err)
		}
	}
}
