package attest

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/kiln-build/kiln/internal/jsondoc"
)

// BuilderID and BuildType name kiln as the builder and its build
// definition (build.hcl and build.lock.hcl) as the build type.
const (
	BuilderID = "https://github.com/kiln-build/kiln"
	BuildType = "https://github.com/kiln-build/kiln/blob/main/docs/attestations.md#provenance"
)

// The SLSA provenance v1 predicate, field for field in the spec's order.
type provenance struct {
	BuildDefinition buildDefinition `json:"buildDefinition"`
	RunDetails      runDetails      `json:"runDetails"`
}

type buildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   externalParameters   `json:"externalParameters"`
	InternalParameters   internalParameters   `json:"internalParameters"`
	ResolvedDependencies []resourceDescriptor `json:"resolvedDependencies"`
}

// externalParameters are what the user chose: the build definition and
// the target. The files are named, their digests are among the resolved
// dependencies.
type externalParameters struct {
	BuildFile string `json:"buildFile"`
	LockFile  string `json:"lockFile,omitempty"`
	Target    string `json:"target"`
	Platform  string `json:"platform"`
}

// internalParameters are what kiln derived: the state's derivation
// digest, SOURCE_DATE_EPOCH, and in mode=max the derivation graph.
type internalParameters struct {
	Derivation      string `json:"derivation"`
	SourceDateEpoch int64  `json:"sourceDateEpoch"`
	Mode            string `json:"mode"`
	Graph           []Node `json:"graph,omitempty"`
}

type resourceDescriptor struct {
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest"`
	Name        string            `json:"name,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type runDetails struct {
	Builder builder `json:"builder"`
}

type builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version"`
}

// Provenance returns the in-toto statement with the SLSA provenance v1
// predicate of b, about subjects; mode is ModeMin or ModeMax (which adds
// the derivation graph).
func Provenance(subjects []Subject, b *Build, mode string) ([]byte, error) {
	if mode != ModeMin && mode != ModeMax {
		return nil, fmt.Errorf("provenance mode %q is not min or max", mode)
	}
	subj, err := subjectsJSON(subjects)
	if err != nil {
		return nil, err
	}
	deps, err := resolvedDependencies(b)
	if err != nil {
		return nil, err
	}
	p := provenance{
		BuildDefinition: buildDefinition{
			BuildType: BuildType,
			ExternalParameters: externalParameters{
				BuildFile: b.BuildFile.Name, LockFile: b.LockFile.Name, Target: b.Target, Platform: b.Platform,
			},
			InternalParameters:   internalParameters{Derivation: b.State, SourceDateEpoch: b.SourceDateEpoch, Mode: mode},
			ResolvedDependencies: deps,
		},
		RunDetails: runDetails{Builder: builder{ID: BuilderID, Version: map[string]string{"kiln": b.BuilderVersion}}},
	}
	if mode == ModeMax {
		p.BuildDefinition.InternalParameters.Graph = b.Graph
		if p.BuildDefinition.InternalParameters.Graph == nil {
			p.BuildDefinition.InternalParameters.Graph = []Node{}
		}
	}
	return jsondoc.Marshal(statement{Type: StatementType, Subject: subj, PredicateType: PredicateSLSAProvenance, Predicate: p})
}

// resolvedDependencies lists everything the state was built from: the
// build file and lock, then each source (each package of a deb source),
// then each fixed-output step, in the order of b's sorted lists.
func resolvedDependencies(b *Build) ([]resourceDescriptor, error) {
	if b.BuildFile.Name == "" || b.BuildFile.SHA256 == "" {
		return nil, fmt.Errorf("provenance of %s: the build file's name and digest are missing", b.Target)
	}
	deps := []resourceDescriptor{{URI: b.BuildFile.Name, Digest: map[string]string{"sha256": b.BuildFile.SHA256}, Name: "build file"}}
	if b.LockFile.Name != "" {
		deps = append(deps, resourceDescriptor{URI: b.LockFile.Name, Digest: map[string]string{"sha256": b.LockFile.SHA256}, Name: "lock file"})
	}
	for _, s := range b.Sources {
		if s.Type == "deb" {
			for _, d := range s.Debs {
				deps = append(deps, resourceDescriptor{
					URI: debPURL(d), Digest: map[string]string{"sha256": d.SHA256}, Name: s.Address + "/" + d.Name,
				})
			}
			continue
		}
		dg, err := pinDigest(s)
		if err != nil {
			return nil, err
		}
		deps = append(deps, resourceDescriptor{URI: sourceURI(s, b.Platform), Digest: dg, Name: s.Address})
	}
	for _, f := range b.FixedOutputs {
		alg, hex, ok := cutDigest(f.OutputHash)
		if !ok {
			return nil, fmt.Errorf("fixed-output step %s: output hash %q is not a digest", f.Address, f.OutputHash)
		}
		deps = append(deps, resourceDescriptor{
			Digest: map[string]string{alg: hex}, Name: f.Address,
			Annotations: map[string]string{"derivation": f.Derivation},
		})
	}
	return deps, nil
}

// pinDigest is a source's pin as an in-toto digest set: git commits as
// gitCommit, the others as algorithm: hex.
func pinDigest(s Source) (map[string]string, error) {
	if s.Pin == "" {
		return nil, fmt.Errorf("source %s has no pin: run kiln lock", s.Address)
	}
	if s.Type == "git" {
		return map[string]string{"gitCommit": s.Pin}, nil
	}
	alg, hex, ok := cutDigest(s.Pin)
	if !ok {
		return nil, fmt.Errorf("source %s: pin %q is not a digest", s.Address, s.Pin)
	}
	return map[string]string{alg: hex}, nil
}

// sourceURI is where a source came from: a purl for images (as BuildKit
// writes them), else the identifier: the URL of http and git, the path in
// the build folder of local and oci-layout sources.
func sourceURI(s Source, platform string) string {
	if s.Type == "image" {
		return imagePURL(s.Identifier, platform)
	}
	return s.Identifier
}

// imagePURL is pkg:docker/NAME@TAG?platform=P for an image reference.
func imagePURL(ref, platform string) string {
	name, tag := ref, "latest"
	if i := strings.Index(name, "@"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	u := "pkg:docker/" + name + "@" + tag
	if platform != "" {
		u += "?platform=" + url.QueryEscape(platform)
	}
	return u
}

// debPURL is the package URL of a Debian package, as syft and apko
// write them.
func debPURL(d Deb) string {
	return "pkg:deb/debian/" + url.PathEscape(d.Name) + "@" + url.PathEscape(d.Version) + "?arch=" + url.QueryEscape(d.Architecture)
}
