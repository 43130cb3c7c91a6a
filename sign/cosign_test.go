package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/internal/testutil/cosign"
)

// statementFor is a small in-toto statement about digest with the given
// predicate type, standing in for kiln's provenance and SBOM.
func statementFor(digest, predicateType, predicate string) []byte {
	return fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"image","digest":{"sha256":%q}}],"predicateType":%q,"predicate":%s}`,
		strings.TrimPrefix(digest, "sha256:"), predicateType, predicate)
}

const (
	slsa1Predicate  = `{"buildDefinition":{"buildType":"https://kiln.dev/build/v1","externalParameters":{"target":"image.a"}},"runDetails":{"builder":{"id":"https://kiln.dev/kiln@test"}}}`
	slsa02Predicate = `{"builder":{"id":"https://kiln.dev/kiln@test"},"buildType":"https://kiln.dev/build/v1"}`
	spdxPredicate   = `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"image","documentNamespace":"https://kiln.dev/spdx/test","creationInfo":{"created":"2023-11-14T22:13:20Z","creators":["Tool: kiln"]},"packages":[]}`
)

// pushImage pushes a small image to reg and returns its reference by tag
// and its digest.
func pushImage(t *testing.T, reg string) (string, string) {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	ref := reg + "/kiln/signed:1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return ref, d.String()
}

// keyPair has cosign generate a key pair: kiln must read cosign's own
// encrypted key file.
func keyPair(t *testing.T, dir, password string) (keyFile, pubFile string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cosign.Path(t), "generate-key-pair")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD="+password, "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	return filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
}

func verify(t *testing.T, pub, ref string, args ...string) (string, bool) {
	t.Helper()
	a := append([]string{"--key", pub, "--insecure-ignore-tlog=true"}, args...)
	return cosign.Run(t, nil, append(a, ref)...)
}

func mustVerify(t *testing.T, what, pub, ref string, args ...string) string {
	t.Helper()
	out, ok := verify(t, pub, ref, args...)
	if !ok {
		t.Fatalf("%s: cosign %s refused it:\n%s", what, strings.Join(args, " "), out)
	}
	return out
}

func mustRefuse(t *testing.T, what, pub, ref string, args ...string) {
	t.Helper()
	out, ok := verify(t, pub, ref, args...)
	if ok {
		t.Fatalf("%s: cosign %s accepted it:\n%s", what, strings.Join(args, " "), out)
	}
	t.Logf("%s: cosign refused, as it should:\n%s", what, out)
}

// TestCosignVerifies signs an image in a real registry with a key cosign
// generated and has the real cosign check the signature and the
// attestations; signing again changes nothing; another key, a tampered
// signature payload and a tampered attestation are refused.
func TestCosignVerifies(t *testing.T) {
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Fatalf("docker-registry is not installed (scripts/deps.sh installs it): %v", err)
	}
	reg := testutil.StartRegistry(t)
	ref, digest := pushImage(t, reg.Addr)
	dir := t.TempDir()
	keyFile, pubFile := keyPair(t, filepath.Join(dir, "a"), "pw-a")
	_, otherPub := keyPair(t, filepath.Join(dir, "b"), "pw-b")
	k, err := LoadKey(keyFile, pw("pw-a"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sig, err := Image(ctx, ref, k, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantSig := reg.Addr + "/kiln/signed:" + strings.Replace(digest, ":", "-", 1) + ".sig"
	if sig.Ref != wantSig || !sig.Added || sig.Subject != reg.Addr+"/kiln/signed@"+digest {
		t.Fatalf("signature result %+v, want Ref %s", sig, wantSig)
	}
	statements := map[string][]byte{
		"slsaprovenance1": statementFor(digest, "https://slsa.dev/provenance/v1", slsa1Predicate),
		"slsaprovenance":  statementFor(digest, "https://slsa.dev/provenance/v0.2", slsa02Predicate),
		"spdxjson":        statementFor(digest, "https://spdx.dev/Document", spdxPredicate),
	}
	var att Result
	for _, typ := range []string{"slsaprovenance1", "slsaprovenance", "spdxjson"} {
		att, err = Attestation(ctx, ref, statements[typ], k, Options{})
		if err != nil {
			t.Fatal(err)
		}
	}
	out := mustVerify(t, "signature", pubFile, ref, "verify")
	if !strings.Contains(out, digest) {
		t.Errorf("cosign verify output does not name %s:\n%s", digest, out)
	}
	for typ := range statements {
		mustVerify(t, "attestation "+typ, pubFile, ref, "verify-attestation", "--type", typ)
	}
	// The digest reference verifies as the tag does.
	mustVerify(t, "signature by digest", pubFile, sig.Subject, "verify")

	// Signing again, image and attestations, writes nothing new.
	again, err := Image(ctx, ref, k, Options{})
	if err != nil || again.Added || again.Digest != sig.Digest {
		t.Errorf("second signature: %+v, %v; want nothing added to %s", again, err, sig.Digest)
	}
	att2, err := Attestation(ctx, ref, statements["spdxjson"], k, Options{})
	if err != nil || att2.Added || att2.Digest != att.Digest {
		t.Errorf("second attestation: %+v, %v; want nothing added to %s", att2, err, att.Digest)
	}
	if n := layers(t, att.Ref); n != 3 {
		t.Errorf("%s has %d layers, want 3 attestations", att.Ref, n)
	}

	// Another key's public key does not verify them.
	mustRefuse(t, "other key, signature", otherPub, ref, "verify")
	mustRefuse(t, "other key, attestation", otherPub, ref, "verify-attestation", "--type", "spdxjson")
	// An attestation kiln never made is not found.
	mustRefuse(t, "missing predicate type", pubFile, ref, "verify-attestation", "--type", "cyclonedx")

	// Tampering: the payloads in the registry changed, signatures kept.
	tamper(t, sig.Ref, func(p []byte) []byte {
		return bytes.Replace(p, []byte("kiln/signed"), []byte("kiln/forged"), 1)
	})
	mustRefuse(t, "tampered signature payload", pubFile, ref, "verify")
	tamper(t, att.Ref, func(p []byte) []byte {
		var e envelope
		if err := json.Unmarshal(p, &e); err != nil {
			t.Fatal(err)
		}
		st, _ := base64.StdEncoding.DecodeString(e.Payload)
		e.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(st, []byte(`"name":"image"`), []byte(`"name":"forged"`), 1))
		b, _ := json.Marshal(e)
		return b
	})
	for typ := range statements {
		mustRefuse(t, "tampered attestation "+typ, pubFile, ref, "verify-attestation", "--type", typ)
	}
}

func layers(t *testing.T, ref string) int {
	t.Helper()
	r, _ := name.ParseReference(ref)
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	return len(ls)
}

// tamper rewrites every layer of the image at ref through change, keeping
// each layer's annotations (so the signature annotations stay), and
// pushes the result under the same tag.
func tamper(t *testing.T, ref string, change func([]byte) []byte) {
	t.Helper()
	r, _ := name.ParseReference(ref)
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	var adds []mutate.Addendum
	for i, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		nb := change(b)
		if bytes.Equal(nb, b) {
			t.Fatalf("tampering changed nothing in layer %d of %s", i, ref)
		}
		adds = append(adds, mutate.Addendum{Layer: static.NewLayer(nb, m.Layers[i].MediaType), Annotations: m.Layers[i].Annotations})
	}
	img, err = mutate.Append(base, adds...)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}
