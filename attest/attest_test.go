package attest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden statements in testdata")

const copyrightDEP5 = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hello

Files: *
Copyright: 1992-2022 Free Software Foundation, Inc.
License: GPL-3+

Files: lib/*
Copyright: someone
License: BSD-3-clause or Expat

Files: doc/*
License: Frobnicate-1
 The Frobnicate licence text.
 .
 Second paragraph.
`

// sample is a build with every kind of input, as package targets would
// collect it.
func sample() *Build {
	return &Build{
		BuilderVersion: "v1.2.3", Target: "image.app", Platform: "linux/amd64", SourceDateEpoch: 1700000000,
		BuildFile: File{Name: "build.hcl", SHA256: strings.Repeat("a", 64)},
		LockFile:  File{Name: "build.lock.hcl", SHA256: strings.Repeat("b", 64)},
		State:     "sha256:" + strings.Repeat("c", 64),
		Sources: []Source{
			{Address: "source.deb.base", Type: "deb", Identifier: "bookworm/amd64", Pin: "sha256:" + strings.Repeat("d", 64), Debs: []Deb{
				{Name: "hello", Version: "2.10-3", Architecture: "amd64", SHA256: strings.Repeat("1", 64), Copyright: []byte(copyrightDEP5)},
				{Name: "libc6", Version: "2.36-9+deb12u4", Architecture: "amd64", SHA256: strings.Repeat("2", 64)},
			}},
			{Address: "source.git.lib", Type: "git", Identifier: "https://example.com/lib.git", Pin: strings.Repeat("e", 40)},
			{Address: "source.http.tool", Type: "http", Identifier: "https://example.com/tool.tar.gz", Pin: "sha256:" + strings.Repeat("f", 64)},
			{Address: "source.image.base", Type: "image", Identifier: "docker.io/library/debian:bookworm", Pin: "sha256:" + strings.Repeat("0", 64)},
			{Address: "source.local.src", Type: "local", Identifier: "src", Pin: "sha256:" + strings.Repeat("9", 64)},
		},
		FixedOutputs: []FixedOutput{{
			Address: "stage.deps.run[0]", Derivation: "sha256:" + strings.Repeat("8", 64), OutputHash: "sha256:" + strings.Repeat("7", 64),
			GoModules: []GoModule{{Path: "golang.org/x/sys", Version: "v0.20.0", Hash: "h1:abc="}},
		}},
		Graph: []Node{
			{Digest: "sha256:" + strings.Repeat("0", 64), Kind: "source", Name: "source.image.base"},
			{Digest: "sha256:" + strings.Repeat("c", 64), Kind: "exec", Name: "stage.s/run[0]", Inputs: []string{"sha256:" + strings.Repeat("0", 64)}},
		},
	}
}

var subject = []Subject{{Name: "image.app", Digest: "sha256:" + strings.Repeat("5", 64)}}

func inImage(addr string) bool { return addr == "source.deb.base" || addr == "source.image.base" }

// TestGolden pins the bytes of each statement: a change to them changes
// every image's attestations, and -update shows it as a diff.
func TestGolden(t *testing.T) {
	for name, f := range map[string]func() ([]byte, error){
		"provenance-min.json": func() ([]byte, error) { return Provenance(subject, sample(), ModeMin) },
		"provenance-max.json": func() ([]byte, error) { return Provenance(subject, sample(), ModeMax) },
		"sbom.json":           func() ([]byte, error) { return SBOM(subject, sample(), inImage) },
	} {
		t.Run(name, func(t *testing.T) {
			got, err := f()
			if err != nil {
				t.Fatal(err)
			}
			again, _ := f()
			if !bytes.Equal(got, again) {
				t.Fatal("two calls gave different bytes")
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			p := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(p, append(pretty.Bytes(), '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("%v (go test ./attest -update writes it)", err)
			}
			if string(want) != pretty.String()+"\n" {
				t.Errorf("%s moved (go test ./attest -run TestGolden -update, then review the diff):\n%s", name, pretty.String())
			}
		})
	}
}

// TestNoHostData: the statements carry no time but the epoch's and
// nothing of the machine.
func TestNoHostData(t *testing.T) {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	for _, mode := range []string{ModeMin, ModeMax} {
		b, err := Provenance(subject, sample(), mode)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := SBOM(subject, sample(), inImage)
		for _, doc := range [][]byte{b, s} {
			if host != "" && bytes.Contains(doc, []byte(host)) {
				t.Errorf("host name %q in %s", host, doc)
			}
			if bytes.Contains(doc, []byte(wd)) {
				t.Errorf("working directory in %s", doc)
			}
		}
	}
}

func TestSBOMContent(t *testing.T) {
	raw, err := SPDX(subject[0], sample(), inImage)
	if err != nil {
		t.Fatal(err)
	}
	var doc spdxDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	byName := map[string]spdxPackage{}
	for _, p := range doc.Packages {
		byName[p.Name] = p
	}
	hello := byName["hello"]
	if want := "(BSD-3-Clause OR MIT) AND GPL-3.0-or-later AND LicenseRef-Frobnicate-1"; hello.LicenseDeclared != want {
		t.Errorf("hello's licence: %q, want %q", hello.LicenseDeclared, want)
	}
	if got := hello.ExternalRefs[0].Locator; got != "pkg:deb/debian/hello@2.10-3?arch=amd64" {
		t.Errorf("hello's purl: %s", got)
	}
	if byName["libc6"].LicenseDeclared != noAssertion {
		t.Errorf("libc6 without a copyright file: %q, want NOASSERTION", byName["libc6"].LicenseDeclared)
	}
	if got := byName["libc6"].ExternalRefs[0].Locator; got != "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64" {
		t.Errorf("libc6's purl: %s", got)
	}
	if _, ok := byName["golang.org/x/sys"]; !ok {
		t.Error("the go.sum module is missing")
	}
	if len(doc.ExtractedLicenses) != 1 || !strings.Contains(doc.ExtractedLicenses[0].Text, "Frobnicate licence text") {
		t.Errorf("extracted licences: %+v", doc.ExtractedLicenses)
	}
	if doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created %s, want the epoch", doc.CreationInfo.Created)
	}
	// A different document gets a different namespace.
	b := sample()
	b.Sources[0].Debs[1].Version = "2.36-9+deb12u5"
	raw2, _ := SPDX(subject[0], b, inImage)
	var doc2 spdxDocument
	json.Unmarshal(raw2, &doc2)
	if doc2.DocumentNamespace == doc.DocumentNamespace {
		t.Error("two documents share a namespace")
	}
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "type=provenance", want: "type=provenance,mode=min"},
		{in: "type=provenance,mode=max", want: "type=provenance,mode=max"},
		{in: "type=sbom", want: "type=sbom"},
		{in: "type=sbom,referrers=true", want: "type=sbom,referrers=true"},
		{in: "TYPE=provenance,disabled=true", want: "type=provenance,mode=min,disabled=true"},
		{in: "type=slsa", err: `unknown type "slsa" (want provenance or sbom)`},
		{in: "type=sbom,mode=max", err: "mode= is for type=provenance only"},
		{in: "type=provenance,mode=full", err: `mode="full" is not min or max`},
		{in: "mode=max", err: "no type="},
		{in: "provenance", err: `"provenance" is not key=value`},
		{in: "type=sbom,generator=x", err: `unknown key "generator"`},
		{in: "type=sbom,type=sbom", err: "given twice"},
		{in: "type=sbom,referrers=maybe", err: `referrers="maybe" is not true or false`},
	} {
		s, err := ParseSpec(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err == "" && s.String() != tc.want:
			t.Errorf("%q: %s, want %s", tc.in, s, tc.want)
		}
	}
	if _, err := ParseSpecs([]string{"type=sbom", "type=sbom,referrers=true"}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("a type twice: %v", err)
	}
}

func TestMerge(t *testing.T) {
	base, _ := ParseSpecs([]string{"type=provenance,mode=max", "type=sbom"})
	over, _ := ParseSpecs([]string{"type=sbom,disabled=true", "type=provenance"})
	got := Merge(base, over)
	if len(got) != 1 || got[0].String() != "type=provenance,mode=min" {
		t.Errorf("Merge: %v", got)
	}
}

func TestParseGoSum(t *testing.T) {
	mods, err := ParseGoSum([]byte("golang.org/x/text v0.3.0 h1:x=\ngolang.org/x/text v0.3.0/go.mod h1:y=\nb.example/m v1.0.0 h1:z=\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 2 || mods[0].Path != "b.example/m" || mods[1].Version != "v0.3.0" {
		t.Errorf("ParseGoSum: %+v", mods)
	}
	if _, err := ParseGoSum([]byte("garbage\n")); err == nil {
		t.Error("a bad line was accepted")
	}
}

func TestDeclaredNotDEP5(t *testing.T) {
	l := newLicenses()
	if got := l.declared([]byte("This is free-form text.\nGPL, probably.\n")); got != noAssertion {
		t.Errorf("free-form copyright: %q", got)
	}
}
