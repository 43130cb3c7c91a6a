package export

import (
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestBuildIndexOrder: the index is the same bytes whatever order the
// manifests come in, sorted by normalised platform (x86_64 is amd64, so
// before arm64, though "x" sorts after "a"), platformless manifests last.
func TestBuildIndexOrder(t *testing.T) {
	desc := func(p string, d string) ocispec.Descriptor {
		out := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(d), Size: 1}
		if p != "" {
			pl, err := ParsePlatform(p)
			if err != nil {
				t.Fatal(err)
			}
			out.Platform = &pl
		}
		return out
	}
	a := []ocispec.Descriptor{desc("", "att"), desc("linux/arm64/v8", "arm"), desc("linux/x86_64", "amd"), desc("linux/arm/v7", "arm7")}
	b := []ocispec.Descriptor{a[2], a[0], a[3], a[1]}
	rawA, dA, err := BuildIndex(a, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	rawB, dB, err := BuildIndex(b, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if string(rawA) != string(rawB) || dA.Digest != dB.Digest {
		t.Fatalf("the index depends on the manifests' order:\n%s\n%s", rawA, rawB)
	}
	var got []string
	for _, m := range a {
		if m.Platform == nil {
			got = append(got, "none")
			continue
		}
		got = append(got, FormatPlatform(*m.Platform))
	}
	want := []string{"linux/x86_64", "linux/arm/v7", "linux/arm64/v8", "none"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}
