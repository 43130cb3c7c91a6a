package export_test

import (
	"encoding/json"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/internal/exporttest"
)

func statements(m export.Manifest) ([]export.Statement, error) {
	return []export.Statement{
		{PredicateType: "https://slsa.dev/provenance/v1", Data: []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + m.Desc.Digest.Encoded() + `"}}]}`)},
		{PredicateType: "https://spdx.dev/Document", Data: []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)},
	}, nil
}

// TestAttach: a one-platform image becomes an index of its manifest and
// an attestation manifest as BuildKit writes it; referrers=true adds the
// OCI 1.1 subject; a docker image is refused.
func TestAttach(t *testing.T) {
	store := exporttest.NewDirStore(t.TempDir())
	for _, referrers := range []bool{false, true} {
		img, err := export.Assemble(store, input(t, sourceTree(t)), export.AssembleOptions{})
		must(t, err)
		mdesc := img.Manifests[0].Desc
		must(t, export.Attach(store, img, statements, export.AttachOptions{Referrers: referrers}))
		if img.Descriptor.MediaType != ocispec.MediaTypeImageIndex || len(img.Attestations) != 1 {
			t.Fatalf("after Attach: %+v, %d attestation manifests", img.Descriptor, len(img.Attestations))
		}
		var idx ocispec.Index
		must(t, json.Unmarshal(img.Index, &idx))
		if len(idx.Manifests) != 2 || idx.Manifests[0].Digest != mdesc.Digest {
			t.Fatalf("index manifests: %+v", idx.Manifests)
		}
		if idx.Annotations[ocispec.AnnotationCreated] == "" {
			t.Errorf("the index lost the manifest's annotations: %v", idx.Annotations)
		}
		a := idx.Manifests[1]
		if a.Platform.OS != "unknown" || a.Platform.Architecture != "unknown" ||
			a.Annotations[export.AnnotationReferenceType] != export.ReferenceTypeAttestation ||
			a.Annotations[export.AnnotationReferenceDigest] != mdesc.Digest.String() {
			t.Errorf("attestation descriptor: %+v", a)
		}
		var am ocispec.Manifest
		must(t, json.Unmarshal(img.Attestations[0].Raw, &am))
		if len(am.Layers) != 2 || am.Layers[0].MediaType != export.InTotoMediaType ||
			am.Layers[1].Annotations[export.AnnotationPredicateType] != "https://spdx.dev/Document" {
			t.Errorf("attestation layers: %+v", am.Layers)
		}
		if ok, _ := store.HasBlob(am.Layers[0].Digest); !ok {
			t.Error("the statement is not in the store")
		}
		if referrers != (am.Subject != nil) || (am.Subject != nil && am.Subject.Digest != mdesc.Digest) {
			t.Errorf("referrers=%v: subject %+v", referrers, am.Subject)
		}
		if !strings.Contains(string(img.Attestations[0].Config), `"os":"unknown"`) {
			t.Errorf("attestation config: %s", img.Attestations[0].Config)
		}
	}

	img, err := export.Assemble(store, input(t, sourceTree(t)), export.AssembleOptions{DockerMediaTypes: true})
	must(t, err)
	if err := export.Attach(store, img, statements, export.AttachOptions{}); err == nil || !strings.Contains(err.Error(), "docker archive cannot carry attestations") {
		t.Errorf("docker image: %v", err)
	}
}

// TestAttachIndex: a multi-platform index keeps its manifests first and
// gets one attestation manifest per platform, each naming its own.
func TestAttachIndex(t *testing.T) {
	store := exporttest.NewDirStore(t.TempDir())
	in := input(t, sourceTree(t))
	arm := in.Platforms[0]
	arm.Platform = ocispec.Platform{OS: "linux", Architecture: "arm64"}
	in.Platforms = append(in.Platforms, arm)
	img, err := export.Assemble(store, in, export.AssembleOptions{})
	must(t, err)
	must(t, export.Attach(store, img, statements, export.AttachOptions{}))
	var idx ocispec.Index
	must(t, json.Unmarshal(img.Index, &idx))
	if len(idx.Manifests) != 4 || len(img.Attestations) != 2 {
		t.Fatalf("index of %d manifests, %d attestation manifests", len(idx.Manifests), len(img.Attestations))
	}
	for i := range 2 {
		if got := idx.Manifests[2+i].Annotations[export.AnnotationReferenceDigest]; got != idx.Manifests[i].Digest.String() {
			t.Errorf("attestation manifest %d refers to %s, want %s", i, got, idx.Manifests[i].Digest)
		}
	}
}

// TestAppendAttestations keeps the image manifests first.
func TestAppendAttestations(t *testing.T) {
	ms := []ocispec.Descriptor{{Digest: "sha256:a"}, {Digest: "sha256:b"}}
	got := export.AppendAttestations(ms, []export.Manifest{{Desc: ocispec.Descriptor{Digest: "sha256:c"}}})
	if len(got) != 3 || got[0].Digest != "sha256:a" || got[2].Digest != "sha256:c" || len(ms) != 2 {
		t.Errorf("AppendAttestations: %+v", got)
	}
}
