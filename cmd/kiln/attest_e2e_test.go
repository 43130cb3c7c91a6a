package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/attest"
	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/internal/testutil"
)

var updateAttest = flag.Bool("update-attest", false, "rewrite testdata/attest.golden")

// attestFlags are the attestations the e2e tests ask for.
var attestFlags = []string{"--attest", "type=provenance,mode=max", "--attest", "type=sbom"}

// attestations reads the attestation manifests of an OCI layout's image:
// the index's descriptors and, for each, its statements by predicate
// type.
func attestations(t *testing.T, layout string) (ocispec.Index, map[string]string) {
	t.Helper()
	var top ocispec.Index
	readJSON(t, filepath.Join(layout, "index.json"), &top)
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("index.json does not name one image index: %+v", top.Manifests)
	}
	blob := func(d fmt.Stringer) string {
		return filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(d.String(), "sha256:"))
	}
	var idx ocispec.Index
	readJSON(t, blob(top.Manifests[0].Digest), &idx)
	stmts := map[string]string{"index": top.Manifests[0].Digest.String()}
	for _, d := range idx.Manifests {
		if d.Annotations[export.AnnotationReferenceType] != export.ReferenceTypeAttestation {
			continue
		}
		if d.Platform == nil || d.Platform.OS != "unknown" || d.Platform.Architecture != "unknown" {
			t.Errorf("attestation manifest platform %+v, want unknown/unknown", d.Platform)
		}
		var m ocispec.Manifest
		readJSON(t, blob(d.Digest), &m)
		for _, l := range m.Layers {
			if l.MediaType != attest.MediaType {
				t.Errorf("attestation layer media type %s", l.MediaType)
			}
			stmts[l.Annotations[export.AnnotationPredicateType]] = l.Digest.String()
		}
	}
	return idx, stmts
}

// TestAttestTwoStores builds an example with provenance and an SBOM in two
// stores: the attestations and the index holding them are the same bytes,
// and testdata/attest.golden records their digests (-update-attest
// rewrites it).
func TestAttestTwoStores(t *testing.T) {
	needTools(t, "skopeo")
	var got []map[string]string
	for i := range 2 {
		dir := copyExample(t, "service", filepath.Join(t.TempDir(), "service"))
		env := []string{"KILN_STORE=" + filepath.Join(t.TempDir(), "store")}
		out := filepath.Join(t.TempDir(), fmt.Sprintf("out%d.oci", i))
		kilnOK(t, dir, env, append([]string{"build", "--progress", "quiet", "-o", "type=oci,dest=" + out}, attestFlags...)...)
		idx, stmts := attestations(t, out)
		if len(idx.Manifests) != 2 {
			t.Fatalf("index has %d manifests, want the image's and its attestations'", len(idx.Manifests))
		}
		if idx.Manifests[1].Annotations[export.AnnotationReferenceDigest] != idx.Manifests[0].Digest.String() {
			t.Errorf("the attestation manifest refers to %s, not the image manifest %s", idx.Manifests[1].Annotations[export.AnnotationReferenceDigest], idx.Manifests[0].Digest)
		}
		if stmts[attest.PredicateSLSAProvenance] == "" || stmts[attest.PredicateSPDX] == "" {
			t.Fatalf("statements: %v", stmts)
		}
		// skopeo reads the image out of the index.
		tool(t, "skopeo", "inspect", "oci:"+out)
		got = append(got, stmts)
	}
	var lines []string
	for _, k := range []string{"index", attest.PredicateSLSAProvenance, attest.PredicateSPDX} {
		if got[0][k] != got[1][k] {
			t.Errorf("%s differs between two stores: %s and %s", k, got[0][k], got[1][k])
		}
		lines = append(lines, k+" "+got[0][k])
	}
	text := "# The digests of examples/service built with " + strings.Join(attestFlags, " ") + "\n" +
		"# (go test ./cmd/kiln -run TestAttestTwoStores -update-attest rewrites it).\n" + strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "attest.golden")
	if *updateAttest {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != text {
		t.Errorf("the attestations moved (if intended: go test ./cmd/kiln -run TestAttestTwoStores -update-attest):\n%s", text)
	}
}

// TestAttestRegistry pushes an image with attestations, one with an OCI
// 1.1 subject, to Debian's docker-registry: skopeo reads the index with
// the attestation manifest, and the referrers tag fallback lists it.
func TestAttestRegistry(t *testing.T) {
	needTools(t, "skopeo", "docker-registry")
	reg := testutil.StartRegistry(t)
	dir := copyExample(t, "service", filepath.Join(t.TempDir(), "service"))
	env := []string{"KILN_STORE=" + filepath.Join(t.TempDir(), "store")}
	md := filepath.Join(t.TempDir(), "md.json")
	ref := reg.Addr + "/service:att"
	kilnOK(t, dir, env, "build", "--progress", "quiet", "--metadata-file", md,
		"-o", "type=registry,registry.insecure=true,name="+ref,
		"--attest", "type=provenance", "--attest", "type=sbom,referrers=true")
	var m metadata
	readJSON(t, md, &m)

	raw := tool(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+ref)
	var idx ocispec.Index
	if err := json.Unmarshal([]byte(raw), &idx); err != nil {
		t.Fatalf("skopeo inspect --raw: %v\n%s", err, raw)
	}
	if idx.MediaType != ocispec.MediaTypeImageIndex || len(idx.Manifests) != 2 {
		t.Fatalf("pushed %s is not an index of an image and its attestations:\n%s", ref, raw)
	}
	if got := strings.TrimSpace(tool(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+ref)); got != m.Digest {
		t.Errorf("pushed digest %s, kiln said %s", got, m.Digest)
	}
	att := idx.Manifests[1]
	if att.Annotations[export.AnnotationReferenceType] != export.ReferenceTypeAttestation {
		t.Fatalf("second manifest is not an attestation manifest: %+v", att)
	}
	var am ocispec.Manifest
	rawAtt := tool(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+reg.Addr+"/service@"+att.Digest.String())
	if err := json.Unmarshal([]byte(rawAtt), &am); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range am.Layers {
		types = append(types, l.Annotations[export.AnnotationPredicateType])
	}
	if strings.Join(types, " ") != attest.PredicateSLSAProvenance+" "+attest.PredicateSPDX {
		t.Errorf("attestation layers: %v", types)
	}
	if am.Subject == nil || am.Subject.Digest != idx.Manifests[0].Digest {
		t.Errorf("referrers=true: subject %+v, want the image manifest %s", am.Subject, idx.Manifests[0].Digest)
	}
	// docker-registry has no referrers API: the tag fallback lists it.
	fallback := reg.Addr + "/service:" + strings.Replace(idx.Manifests[0].Digest.String(), ":", "-", 1)
	rawRef := tool(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+fallback)
	if !strings.Contains(rawRef, att.Digest.String()) {
		t.Errorf("the referrers tag %s does not list the attestation manifest %s:\n%s", fallback, att.Digest, rawRef)
	}
}
