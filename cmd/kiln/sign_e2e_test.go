package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/internal/testutil/cosign"
)

// TestSignVerifiedByCosign pushes an image kiln built, signed by kiln
// build --sign with a key kiln generated, then signs it with kiln sign
// under a key cosign generated and attaches two attestations; the real
// cosign verifies the signatures under both keys and the attestations
// by predicate type.
func TestSignVerifiedByCosign(t *testing.T) {
	needTools(t, "docker-registry")
	cosignBin := cosign.Path(t)
	reg := testutil.StartRegistry(t)
	ref := reg.Addr + "/kiln/signed:1"
	p := newProj(t, fmt.Sprintf(`
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

image "app" {
  from = source.local.busybox
  tags = [%q]
}
`, ref), "")
	p.env = append(p.env, "COSIGN_PASSWORD=kiln-pw")
	p.ok("sign", "--generate-key", "--key", "kiln.key")
	_, e, code := p.run("build", "--progress", "plain", "app", "-o", "type=registry", "--sign", "key=kiln.key", "--metadata-file", "md.json")
	if code != 0 {
		t.Fatalf("kiln build --sign: exit %d\n%s", code, e)
	}
	sigTag := ":sha256-"
	if !strings.Contains(e, "exported image.app to cosign signature "+reg.Addr+"/kiln/signed"+sigTag) {
		t.Errorf("build did not report the signature:\n%s", e)
	}
	var md map[string]any
	b, _ := os.ReadFile(filepath.Join(p.dir, "md.json"))
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	digest, _ := md["containerimage.digest"].(string)
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("metadata has no digest:\n%s", b)
	}

	cosignRun := func(env []string, args ...string) (string, bool) {
		return cosign.Run(t, env, args...)
	}
	verify := func(pub string, args ...string) {
		t.Helper()
		a := append(args, "--key", filepath.Join(p.dir, pub), "--insecure-ignore-tlog=true", ref)
		out, ok := cosignRun(nil, a...)
		if !ok {
			t.Fatalf("cosign %s --key %s refused:\n%s", args[0], pub, out)
		}
		// verify prints the payloads it checked; verify-attestation
		// prints envelopes, whose statements are base64.
		if args[0] == "verify" && !strings.Contains(out, digest) {
			t.Errorf("cosign %s output does not name %s:\n%s", args[0], digest, out)
		}
	}
	verify("kiln.pub", "verify")

	// cosign's own key file, and two attestations about the image.
	gen := exec.Command(cosignBin, "generate-key-pair")
	gen.Dir = p.dir
	gen.Env = append(os.Environ(), "COSIGN_PASSWORD=cosign-pw", "HOME="+t.TempDir())
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	hex := strings.TrimPrefix(digest, "sha256:")
	statement := func(file, predicateType, predicate string) string {
		st := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":%q,"digest":{"sha256":%q}}],"predicateType":%q,"predicate":%s}`, reg.Addr+"/kiln/signed", hex, predicateType, predicate)
		if err := os.WriteFile(filepath.Join(p.dir, file), []byte(st), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	prov := statement("prov.json", "https://slsa.dev/provenance/v1", `{"buildDefinition":{"buildType":"https://kiln.dev/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://kiln.dev/kiln"}}}`)
	sbom := statement("sbom.json", "https://spdx.dev/Document", `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app","dataLicense":"CC0-1.0","documentNamespace":"https://kiln.dev/spdx/app","creationInfo":{"created":"2023-11-14T22:13:20Z","creators":["Tool: kiln"]}}`)
	p.env = []string{"COSIGN_PASSWORD=cosign-pw"}
	out := p.ok("sign", ref, "--key", "cosign.key", "--attestation", prov, "--attestation", sbom)
	for _, want := range []string{".sig sha256:", "signature added of " + reg.Addr + "/kiln/signed@" + digest, ".att sha256:", "attestation added"} {
		if !strings.Contains(out, want) {
			t.Errorf("kiln sign output lacks %q:\n%s", want, out)
		}
	}
	// Signing again adds nothing.
	out = p.ok("sign", ref, "--key", "cosign.key", "--attestation", sbom)
	if strings.Count(out, "there already") != 2 {
		t.Errorf("second kiln sign added something:\n%s", out)
	}
	verify("cosign.pub", "verify")
	verify("kiln.pub", "verify")
	verify("cosign.pub", "verify-attestation", "--type", "slsaprovenance1")
	verify("cosign.pub", "verify-attestation", "--type", "spdxjson")
	// kiln's key signed no attestation.
	if out, ok := cosignRun(nil, "verify-attestation", "--type", "spdxjson", "--key", filepath.Join(p.dir, "kiln.pub"), "--insecure-ignore-tlog=true", ref); ok {
		t.Errorf("attestations verified under a key that signed none:\n%s", out)
	}
}

// TestBuildSignsItsAttestations pushes an image with kiln's provenance
// and SBOM attached and signed by kiln build --sign: the real cosign
// verifies both statements under the platform manifest they are about,
// and the signature of the index the tag names.
func TestBuildSignsItsAttestations(t *testing.T) {
	needTools(t, "docker-registry", "skopeo")
	cosign.Path(t)
	reg := testutil.StartRegistry(t)
	ref := reg.Addr + "/kiln/attested:1"
	p := newProj(t, fmt.Sprintf(`
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

image "app" {
  from   = source.local.busybox
  tags   = [%q]
  attest = ["type=provenance,mode=max", "type=sbom"]
}
`, ref), "")
	p.env = append(p.env, "COSIGN_PASSWORD=kiln-pw")
	p.ok("sign", "--generate-key", "--key", "kiln.key")
	_, e, code := p.run("build", "--progress", "plain", "app", "-o", "type=registry", "--sign", "key=kiln.key")
	if code != 0 {
		t.Fatalf("kiln build --attest --sign: exit %d\n%s", code, e)
	}
	if !strings.Contains(e, "cosign attestations "+reg.Addr+"/kiln/attested:sha256-") {
		t.Errorf("build did not report the signed attestations:\n%s", e)
	}
	raw, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+ref).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --raw: %v", err)
	}
	var idx struct {
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct {
				OS string `json:"os"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) < 2 {
		t.Fatalf("the pushed image is not an index with an attestation manifest (%v):\n%s", err, raw)
	}
	manifest := idx.Manifests[0].Digest
	if idx.Manifests[0].Platform.OS != "linux" {
		t.Fatalf("the index does not list the image manifest first:\n%s", raw)
	}
	pub := filepath.Join(p.dir, "kiln.pub")
	byDigest := reg.Addr + "/kiln/attested@" + manifest
	for _, typ := range []string{"slsaprovenance1", "spdxjson"} {
		if out, ok := cosign.Run(t, nil, "verify-attestation", "--type", typ, "--key", pub, "--insecure-ignore-tlog=true", byDigest); !ok {
			t.Errorf("cosign verify-attestation --type %s refused kiln's signed statement:\n%s", typ, out)
		}
	}
	if out, ok := cosign.Run(t, nil, "verify", "--key", pub, "--insecure-ignore-tlog=true", ref); !ok {
		t.Errorf("cosign verify refused the index's signature:\n%s", out)
	}
}
