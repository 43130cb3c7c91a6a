package export

import (
	"slices"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/internal/jsondoc"
	"github.com/kiln-build/kiln/internal/platform"
)

// SortManifests puts an index's manifest descriptors in kiln's one fixed
// order: by platform once normalised (linux/amd64 before linux/arm64,
// whatever build.hcl or --platform lists first and however they spell
// them), then by the platform as spelled, then by digest, so that the
// same manifests always give the same index bytes. Descriptors without a
// platform (attestation manifests) sort after every platform.
func SortManifests(ms []ocispec.Descriptor) {
	key := func(d ocispec.Descriptor) (bool, string, string) {
		if d.Platform == nil {
			return true, "", ""
		}
		return false, FormatPlatform(platform.Normalize(*d.Platform)), FormatPlatform(*d.Platform)
	}
	slices.SortStableFunc(ms, func(a, b ocispec.Descriptor) int {
		an, ak, as := key(a)
		bn, bk, bs := key(b)
		switch {
		case an != bn:
			if an {
				return 1
			}
			return -1
		case ak != bk:
			return cmpStr(ak, bk)
		case as != bs:
			return cmpStr(as, bs)
		}
		return cmpStr(a.Digest.String(), b.Digest.String())
	})
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// BuildIndex is the OCI image index of manifests, in SortManifests'
// order, with annotations: its bytes and its descriptor. The manifests
// slice is sorted in place. It is the one place an index is written, so
// that what adds manifests to one (attestations) gets the same order and
// encoding.
func BuildIndex(manifests []ocispec.Descriptor, annotations map[string]string) ([]byte, ocispec.Descriptor, error) {
	SortManifests(manifests)
	idx := ocispec.Index{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageIndex,
		Manifests:   manifests,
		Annotations: annotations,
	}
	raw, err := jsondoc.Marshal(idx)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	return raw, descriptorOf(ocispec.MediaTypeImageIndex, raw), nil
}
