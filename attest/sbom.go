package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kiln-build/kiln/internal/jsondoc"
	"github.com/kiln-build/kiln/internal/lazyre"
)

// The SPDX 2.3 document, field for field in the order of the spec's JSON
// examples; only what kiln knows is written.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
	ExtractedLicenses []spdxExtracted    `json:"hasExtractedLicensingInfos,omitempty"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name                  string         `json:"name"`
	SPDXID                string         `json:"SPDXID"`
	VersionInfo           string         `json:"versionInfo,omitempty"`
	DownloadLocation      string         `json:"downloadLocation"`
	FilesAnalyzed         bool           `json:"filesAnalyzed"`
	Checksums             []spdxChecksum `json:"checksums,omitempty"`
	LicenseConcluded      string         `json:"licenseConcluded"`
	LicenseDeclared       string         `json:"licenseDeclared"`
	CopyrightText         string         `json:"copyrightText"`
	Comment               string         `json:"comment,omitempty"`
	ExternalRefs          []spdxRef      `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string         `json:"primaryPackagePurpose,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

type spdxExtracted struct {
	LicenseID string `json:"licenseId"`
	Text      string `json:"extractedText"`
	Name      string `json:"name,omitempty"`
}

const noAssertion = "NOASSERTION"

// SBOMNamespace is the prefix of every document's namespace; the rest is
// the image's address and the digest of the document's own content, so
// that equal documents have equal namespaces and different ones never
// share one (SPDX asks for a unique URI, commonly a random UUID).
const SBOMNamespace = BuilderID + "/spdx/"

// SBOM returns the in-toto statement whose predicate is the SPDX 2.3
// document of b: the image, the Debian packages of its deb sources with
// versions, licences (from their copyright files, else NOASSERTION) and
// purls, the Go modules of its fixed-output steps (from go.sum), and every
// other source. Packages of sources the image's layers come from are
// CONTAINed in it; the others are its BUILD_DEPENDENCY_OF.
func SBOM(subjects []Subject, b *Build, inImage func(address string) bool) ([]byte, error) {
	subj, err := subjectsJSON(subjects)
	if err != nil {
		return nil, err
	}
	doc, err := SPDX(subjects[0], b, inImage)
	if err != nil {
		return nil, err
	}
	return jsondoc.Marshal(statement{Type: StatementType, Subject: subj, PredicateType: PredicateSPDX, Predicate: spdxJSON(doc)})
}

// SPDX returns the SPDX document SBOM puts in its statement, as JSON
// bytes (kiln sbom prints it).
func SPDX(image Subject, b *Build, inImage func(address string) bool) ([]byte, error) {
	doc := &spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name: b.Target + " " + b.Platform,
		CreationInfo: spdxCreationInfo{
			Created:  time.Unix(b.SourceDateEpoch, 0).UTC().Format(time.RFC3339),
			Creators: []string{"Tool: kiln-" + b.BuilderVersion},
		},
	}
	alg, hexd, ok := cutDigest(image.Digest)
	if !ok || alg != "sha256" {
		return nil, fmt.Errorf("sbom of %s: the image digest %q is not sha256", b.Target, image.Digest)
	}
	root := spdxPackage{
		Name: b.Target, SPDXID: "SPDXRef-Image", VersionInfo: image.Digest, DownloadLocation: noAssertion,
		Checksums:        []spdxChecksum{{"SHA256", hexd}},
		LicenseConcluded: noAssertion, LicenseDeclared: noAssertion, CopyrightText: noAssertion,
		PrimaryPackagePurpose: "CONTAINER",
	}
	doc.Packages = append(doc.Packages, root)
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", root.SPDXID})
	lic := newLicenses()
	var pkgs []spdxPackage
	relate := func(p spdxPackage, contained bool) {
		pkgs = append(pkgs, p)
		if contained {
			doc.Relationships = append(doc.Relationships, spdxRelationship{root.SPDXID, "CONTAINS", p.SPDXID})
		} else {
			doc.Relationships = append(doc.Relationships, spdxRelationship{p.SPDXID, "BUILD_DEPENDENCY_OF", root.SPDXID})
		}
	}
	for _, s := range b.Sources {
		in := inImage != nil && inImage(s.Address)
		if s.Type == "deb" {
			for _, d := range s.Debs {
				relate(debPackage(s, d, lic), in)
			}
			continue
		}
		relate(sourcePackage(s, b.Platform), in)
	}
	for _, f := range b.FixedOutputs {
		in := inImage != nil && inImage(f.Address)
		for _, m := range f.GoModules {
			relate(goPackage(f, m), in)
		}
	}
	// Sorted by id, so that the order is the data's, not the build
	// file's; relationships likewise. A package two sources share (the
	// same .deb in two deb sources) has one id and is listed once, as
	// the first source in address order has it (hence the stable sort),
	// with a relationship for each.
	slices.SortStableFunc(pkgs, func(a, b spdxPackage) int { return strings.Compare(a.SPDXID, b.SPDXID) })
	pkgs = slices.CompactFunc(pkgs, func(a, b spdxPackage) bool { return a.SPDXID == b.SPDXID })
	doc.Packages = append(doc.Packages, pkgs...)
	slices.SortFunc(doc.Relationships, func(a, b spdxRelationship) int {
		return strings.Compare(a.Element+" "+a.Type+" "+a.Related, b.Element+" "+b.Type+" "+b.Related)
	})
	doc.Relationships = slices.Compact(doc.Relationships)
	doc.ExtractedLicenses = lic.extracted()

	// The namespace is the digest of the document without it.
	raw, err := jsondoc.Marshal(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	doc.DocumentNamespace = SBOMNamespace + b.Target + "-" + hex.EncodeToString(sum[:])
	return jsondoc.Marshal(doc)
}

// spdxJSON is an encoded SPDX document; it encodes as itself inside a
// statement.
type spdxJSON []byte

func (j spdxJSON) MarshalJSON() ([]byte, error) { return j, nil }

var spdxIDUnsafe = lazyre.New(`[^A-Za-z0-9.-]+`)

// spdxID is a stable element id: a readable prefix and name, and a short
// hash of key, which is unique per element (ids allow only letters,
// digits, '.' and '-', so two names could otherwise clash).
func spdxID(kind, name, key string) string {
	sum := sha256.Sum256([]byte(key))
	return "SPDXRef-" + kind + "-" + strings.Trim(spdxIDUnsafe.Regexp().ReplaceAllString(name, "-"), "-") + "-" + hex.EncodeToString(sum[:6])
}

func debPackage(s Source, d Deb, lic *licenses) spdxPackage {
	purl := debPURL(d)
	return spdxPackage{
		Name: d.Name, SPDXID: spdxID("Package-deb", d.Name, purl+"#"+d.SHA256), VersionInfo: d.Version,
		DownloadLocation: noAssertion, Checksums: []spdxChecksum{{"SHA256", d.SHA256}},
		LicenseConcluded: noAssertion, LicenseDeclared: lic.declared(d.Copyright), CopyrightText: noAssertion,
		Comment:      "from " + s.Address,
		ExternalRefs: []spdxRef{{"PACKAGE-MANAGER", "purl", purl}},
	}
}

func goPackage(f FixedOutput, m GoModule) spdxPackage {
	purl := "pkg:golang/" + m.Path + "@" + m.Version
	return spdxPackage{
		Name: m.Path, SPDXID: spdxID("Package-go", m.Path, purl), VersionInfo: m.Version,
		DownloadLocation: noAssertion, LicenseConcluded: noAssertion, LicenseDeclared: noAssertion, CopyrightText: noAssertion,
		Comment:      "fetched by " + f.Address + "; go.sum " + m.Hash,
		ExternalRefs: []spdxRef{{"PACKAGE-MANAGER", "purl", purl}},
	}
}

func sourcePackage(s Source, platform string) spdxPackage {
	p := spdxPackage{
		Name: s.Address, SPDXID: spdxID("Source", s.Address, s.Address), DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion, LicenseDeclared: noAssertion, CopyrightText: noAssertion,
		Comment: s.Type + " source " + s.Identifier,
	}
	switch s.Type {
	case "image":
		p.VersionInfo = s.Pin
		p.ExternalRefs = []spdxRef{{"PACKAGE-MANAGER", "purl", imagePURL(s.Identifier, platform)}}
	case "git":
		p.VersionInfo = s.Pin
		p.DownloadLocation = "git+" + s.Identifier + "@" + s.Pin
	case "http":
		// Only a download's pin is the checksum of a file, which is what
		// an SPDX checksum is; the others are in versionInfo or comment.
		p.DownloadLocation = s.Identifier
		if alg, h, ok := cutDigest(s.Pin); ok && alg == "sha256" {
			p.Checksums = []spdxChecksum{{"SHA256", h}}
		}
	default:
		p.VersionInfo = s.Pin
	}
	return p
}
