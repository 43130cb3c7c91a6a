package attest

import (
	"fmt"
	"strings"
)

// Build is what the evidence of one image platform is made from: plain
// data, collected by package targets from the compiled graph, the lock
// and the store. Nothing in it may depend on the machine or the moment
// of the build (paths, host names, the time): the statements must be the
// same wherever the same inputs are built.
type Build struct {
	// BuilderVersion is kiln's version.
	BuilderVersion string
	// Target is the image's address ("image.app"), Platform the
	// platform of this manifest (os/arch[/variant]).
	Target   string
	Platform string
	// SourceDateEpoch is the build's only time.
	SourceDateEpoch int64
	// BuildFile and LockFile are the build definition: their names
	// (relative to the build folder) and sha256 digests. LockFile is
	// zero when the build has none.
	BuildFile File
	LockFile  File
	// State is the derivation digest of the image's state on Platform.
	State string
	// Sources are the sources the state is built from, sorted by
	// address.
	Sources []Source
	// FixedOutputs are the fixed-output steps the state is built from
	// (steps with network access, pinned by output hash), sorted by
	// address.
	FixedOutputs []FixedOutput
	// Graph is the state's derivation closure in build order; only
	// provenance mode=max writes it.
	Graph []Node
}

// File is a file of the build definition.
type File struct {
	Name   string
	SHA256 string // hex
}

// Source is one source of the build, as pinned.
type Source struct {
	// Address is the build.hcl address (source.image.base).
	Address string
	// Type is image, oci-layout, http, git, local or deb.
	Type string
	// Identifier is what was asked for: an image reference, a URL, a git
	// remote, a path relative to the build file's folder, a deb suite and
	// architecture.
	Identifier string
	// Pin identifies the content: a manifest digest, sha256:HEX of a
	// download or a local tree, a git commit.
	Pin string
	// Debs are the packages of a deb source.
	Debs []Deb
}

// Deb is one pinned Debian package.
type Deb struct {
	Name, Version, Architecture string
	SHA256                      string // hex of the .deb
	// Copyright is the package's /usr/share/doc/NAME/copyright as the
	// source unpacked it, nil when it has none (or it is a symlink into
	// another package's folder): its licences come from here.
	Copyright []byte
}

// FixedOutput is a fixed-output step: its lock address, derivation
// digest and pinned output hash, and the Go modules it fetched as its
// go.sum lists them.
type FixedOutput struct {
	Address    string
	Derivation string
	OutputHash string // sha256:HEX
	GoModules  []GoModule
}

// Node is one derivation of the graph.
type Node struct {
	Digest string   `json:"digest"`
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	Inputs []string `json:"inputs,omitempty"`
}

// Subject is what a statement is about: an image manifest.
type Subject struct {
	Name   string
	Digest string // sha256:HEX
}

// Statement media type and the in-toto statement type.
const (
	MediaType     = "application/vnd.in-toto+json"
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateSLSAProvenance and PredicateSPDX are the predicate types
	// of the two statements (in-toto.io/predicate-type).
	PredicateSLSAProvenance = "https://slsa.dev/provenance/v1"
	PredicateSPDX           = "https://spdx.dev/Document"
)

// statement is an in-toto Statement v1.
type statement struct {
	Type          string        `json:"_type"`
	Subject       []subjectJSON `json:"subject"`
	PredicateType string        `json:"predicateType"`
	Predicate     any           `json:"predicate"`
}

type subjectJSON struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

func subjectsJSON(subjects []Subject) ([]subjectJSON, error) {
	var out []subjectJSON
	for _, s := range subjects {
		alg, hex, ok := cutDigest(s.Digest)
		if !ok {
			return nil, fmt.Errorf("subject %s: %q is not a digest", s.Name, s.Digest)
		}
		out = append(out, subjectJSON{Name: s.Name, Digest: map[string]string{alg: hex}})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("a statement needs a subject")
	}
	return out, nil
}

func cutDigest(d string) (alg, hex string, ok bool) {
	alg, hex, ok = strings.Cut(d, ":")
	return alg, hex, ok && alg != "" && hex != ""
}
