package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/internal/jsondoc"
)

// Attestation manifests as BuildKit writes them: one per image manifest,
// listed in the image index with the unknown/unknown platform and these
// annotations, its layers the in-toto statements.
const (
	AnnotationReferenceType   = "vnd.docker.reference.type"
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	ReferenceTypeAttestation  = "attestation-manifest"
	AnnotationPredicateType   = "in-toto.io/predicate-type"
	InTotoMediaType           = "application/vnd.in-toto+json"
)

// Statement is one in-toto statement to attach to an image manifest.
type Statement struct {
	PredicateType string
	Data          []byte
}

// AttachOptions say how statements are attached.
type AttachOptions struct {
	// Referrers gives each attestation manifest an OCI 1.1 subject (the
	// image manifest) and an artifactType, so that a registry with the
	// referrers API (or go-containerregistry's tag fallback,
	// sha256-HEX, on one without) lists it. The attestation manifests
	// stay in the index either way.
	Referrers bool
}

// Attach makes img an index holding, after its image manifests, an
// attestation manifest per image manifest with the statements that
// statements returns for it (none: no attestation manifest). The
// statements go into store as blobs. A docker archive cannot carry them.
func Attach(store BlobStore, img *Image, statements func(m Manifest) ([]Statement, error), opts AttachOptions) error {
	if img.Docker {
		return errors.New("a docker archive cannot carry attestations: export with type=oci or type=registry, or drop --attest")
	}
	var atts []Manifest
	for _, m := range img.Manifests {
		stmts, err := statements(m)
		if err != nil {
			return err
		}
		if len(stmts) == 0 {
			continue
		}
		a, err := attestationManifest(store, m.Desc, stmts, opts)
		if err != nil {
			return fmt.Errorf("attestations of %s: %w", FormatPlatform(m.Platform), err)
		}
		atts = append(atts, a)
	}
	if len(atts) == 0 {
		return nil
	}
	idx, err := indexOf(img)
	if err != nil {
		return err
	}
	idx.Manifests = AppendAttestations(idx.Manifests, atts)
	raw, err := jsondoc.Marshal(idx)
	if err != nil {
		return err
	}
	img.Attestations = atts
	img.Index = raw
	img.Descriptor = descriptorOf(ocispec.MediaTypeImageIndex, raw)
	return nil
}

// AppendAttestations appends the descriptors of attestation manifests to
// an index's manifests: the image manifests come first, as clients that
// pick a platform take the first match.
func AppendAttestations(manifests []ocispec.Descriptor, atts []Manifest) []ocispec.Descriptor {
	out := append([]ocispec.Descriptor(nil), manifests...)
	for _, a := range atts {
		out = append(out, a.Desc)
	}
	return out
}

// indexOf returns img's index, or for a one-manifest image a new index
// of it with the manifest's annotations (its created date and source).
func indexOf(img *Image) (ocispec.Index, error) {
	var idx ocispec.Index
	if img.Index != nil {
		if err := json.Unmarshal(img.Index, &idx); err != nil {
			return idx, fmt.Errorf("reading the image index: %w", err)
		}
		return idx, nil
	}
	var mf ocispec.Manifest
	if err := json.Unmarshal(img.Manifests[0].Raw, &mf); err != nil {
		return idx, fmt.Errorf("reading the image manifest: %w", err)
	}
	idx = ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{img.Manifests[0].Desc}, Annotations: mf.Annotations,
	}
	return idx, nil
}

// attestationConfig is the config of an attestation manifest, BuildKit's:
// the unknown platform and the statements as its diff_ids.
type attestationConfig struct {
	Architecture string         `json:"architecture"`
	OS           string         `json:"os"`
	Config       struct{}       `json:"config"`
	RootFS       ocispec.RootFS `json:"rootfs"`
}

// attestationManifest stores the statements as blobs and returns the
// manifest of them for subject.
func attestationManifest(store BlobStore, subject ocispec.Descriptor, stmts []Statement, opts AttachOptions) (Manifest, error) {
	cfg := attestationConfig{Architecture: "unknown", OS: "unknown", RootFS: ocispec.RootFS{Type: "layers"}}
	var layers []ocispec.Descriptor
	for _, s := range stmts {
		d := descriptorOf(InTotoMediaType, s.Data)
		if _, _, err := store.AddBlob(bytes.NewReader(s.Data), d.Digest); err != nil {
			return Manifest{}, fmt.Errorf("storing the %s statement: %w", s.PredicateType, err)
		}
		d.Annotations = map[string]string{AnnotationPredicateType: s.PredicateType}
		layers = append(layers, d)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, d.Digest)
	}
	rawCfg, err := jsondoc.Marshal(cfg)
	if err != nil {
		return Manifest{}, err
	}
	mf := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    descriptorOf(ocispec.MediaTypeImageConfig, rawCfg),
		Layers:    layers,
	}
	if opts.Referrers {
		sub := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
		mf.Subject = &sub
		mf.ArtifactType = InTotoMediaType
	}
	raw, err := jsondoc.Marshal(mf)
	if err != nil {
		return Manifest{}, err
	}
	unknown := ocispec.Platform{Architecture: "unknown", OS: "unknown"}
	desc := descriptorOf(ocispec.MediaTypeImageManifest, raw)
	desc.Platform = &unknown
	desc.Annotations = map[string]string{
		AnnotationReferenceDigest: subject.Digest.String(),
		AnnotationReferenceType:   ReferenceTypeAttestation,
	}
	return Manifest{Platform: unknown, Config: rawCfg, ConfigDesc: mf.Config, Raw: raw, Desc: desc, Layers: layers}, nil
}
