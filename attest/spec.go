package attest

import (
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Attestation types, the type= of an --attest spec (buildx's spelling).
const (
	TypeProvenance = "provenance"
	TypeSBOM       = "sbom"
)

// Provenance modes, as buildx's mode= of type=provenance.
const (
	ModeMin = "min"
	ModeMax = "max"
)

// Spec is a parsed --attest spec: type=provenance[,mode=min|max] or
// type=sbom, each with [,referrers=true] and [,disabled=true].
type Spec struct {
	Type string
	// Mode is min (the default) or max (adds the derivation graph);
	// provenance only.
	Mode string
	// Referrers gives the attestation manifest an OCI 1.1 subject (the
	// image manifest), so registries with the referrers API list it.
	Referrers bool
	// Disabled turns off an attestation the image block asks for.
	Disabled bool
}

// String is the spec as ParseSpec reads it back.
func (s Spec) String() string {
	out := "type=" + s.Type
	if s.Type == TypeProvenance {
		out += ",mode=" + s.Mode
	}
	if s.Referrers {
		out += ",referrers=true"
	}
	if s.Disabled {
		out += ",disabled=true"
	}
	return out
}

// ParseSpec parses one --attest spec. Unknown types and keys are errors
// that name what is allowed.
func ParseSpec(spec string) (Spec, error) {
	s, err := parseSpec(spec)
	if err != nil {
		return Spec{}, fmt.Errorf("attest %q: %w", spec, err)
	}
	return s, nil
}

func parseSpec(spec string) (Spec, error) {
	fields, err := csv.NewReader(strings.NewReader(spec)).Read()
	if err != nil {
		return Spec{}, fmt.Errorf("not comma-separated key=value fields: %w", err)
	}
	var s Spec
	seen := map[string]bool{}
	for _, f := range fields {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return Spec{}, fmt.Errorf("%q is not key=value (write type=provenance or type=sbom)", f)
		}
		k = strings.ToLower(k)
		if seen[k] {
			return Spec{}, fmt.Errorf("key %q given twice", k)
		}
		seen[k] = true
		switch k {
		case "type":
			if v != TypeProvenance && v != TypeSBOM {
				return Spec{}, fmt.Errorf("unknown type %q (want provenance or sbom)", v)
			}
			s.Type = v
		case "mode":
			if v != ModeMin && v != ModeMax {
				return Spec{}, fmt.Errorf("mode=%q is not min or max", v)
			}
			s.Mode = v
		case "referrers", "disabled":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Spec{}, fmt.Errorf("%s=%q is not true or false", k, v)
			}
			if k == "referrers" {
				s.Referrers = b
			} else {
				s.Disabled = b
			}
		default:
			return Spec{}, fmt.Errorf("unknown key %q (known: type, mode, referrers, disabled)", k)
		}
	}
	switch {
	case s.Type == "":
		return Spec{}, fmt.Errorf("no type= (want type=provenance or type=sbom)")
	case s.Type == TypeSBOM && s.Mode != "":
		return Spec{}, fmt.Errorf("mode= is for type=provenance only")
	case s.Type == TypeProvenance && s.Mode == "":
		s.Mode = ModeMin
	}
	return s, nil
}

// ParseSpecs parses a list of specs, at most one per type.
func ParseSpecs(specs []string) ([]Spec, error) {
	var out []Spec
	for _, spec := range specs {
		s, err := ParseSpec(spec)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o Spec) bool { return o.Type == s.Type }) {
			return nil, fmt.Errorf("attest %q: type=%s is given twice; give each type once", spec, s.Type)
		}
		out = append(out, s)
	}
	return out, nil
}

// Merge applies over (the command line's specs) to base (the image
// block's): a type in over replaces base's, as buildx's --attest replaces
// bake's attest of the same type. Disabled specs are dropped. The result
// is sorted by type.
func Merge(base, over []Spec) []Spec {
	byType := map[string]Spec{}
	for _, s := range base {
		byType[s.Type] = s
	}
	for _, s := range over {
		byType[s.Type] = s
	}
	var out []Spec
	for _, t := range []string{TypeProvenance, TypeSBOM} {
		if s, ok := byType[t]; ok && !s.Disabled {
			out = append(out, s)
		}
	}
	return out
}
