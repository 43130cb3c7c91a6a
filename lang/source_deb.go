package lang

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/kiln-build/kiln/internal/debian"
)

// debSource is source "deb": packages resolved against a Debian
// repository (docs/deb.md).
type debSource struct{}

var _ sourceKind = debSource{}

var debSourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "packages", Required: true}, {Name: "suite"}, {Name: "architecture"}, {Name: "repository"},
	{Name: "signed_by"}, {Name: "trusted"}, {Name: "max_size"}, {Name: "pin"}}}

func (debSource) name() string            { return "deb" }
func (debSource) schema() *hcl.BodySchema { return debSourceSchema }

func (debSource) decode(e *evaluator, _ *hcl.Block, a attrs, s *Source) {
	s.Packages = a.strs("packages")
	if a.has("packages") && len(s.Packages) == 0 {
		e.errorf(a.rng("packages"), "No packages", "List at least one package.")
	}
	suites, _ := a.strOrStrs("suite")
	if a.has("suite") && len(suites) == 0 {
		e.errorf(a.rng("suite"), "No suite", `Name a suite, or several: suite = ["bookworm", "bookworm-updates", "bookworm-security"].`)
	}
	listed := map[string]bool{}
	specs := make([]debian.SuiteSpec, 0, len(suites))
	for _, n := range suites {
		switch {
		case !debian.ValidSuite(n):
			e.errorf(a.rng("suite"), "Invalid suite", "%q is not a Debian suite name (letters, digits and \"+-._/\").", n)
		case listed[n]:
			e.errorf(a.rng("suite"), "Duplicate suite", "Suite %q is listed twice.", n)
		}
		listed[n] = true
		specs = append(specs, debian.SuiteSpec{Name: n})
	}
	pins := debPins(a)
	for i := range specs {
		specs[i].Pin = pins[specs[i].Name]
	}
	for _, n := range slices.Sorted(maps.Keys(pins)) {
		if !listed[n] {
			e.errorf(a.rng("pin"), "Pin of an unlisted suite", "pin names suite %q, which suite does not list.", n)
		}
	}
	if len(specs) > 0 {
		s.Suite = debian.FormatSuites(specs)
	}
	s.Architecture = a.str("architecture")
	s.Repository, s.SuiteRepositories = debStrOrMap(a, "repository", listed)
	var signedBy string
	signedBy, s.SuiteSignedBy = debStrOrMap(a, "signed_by", listed)
	if signedBy != "" {
		s.SignedBy = a.absPath("signed_by")
	}
	explicit := s.Repository != "" || len(s.SuiteRepositories) > 0
	for _, suite := range slices.Sorted(maps.Keys(s.SuiteSignedBy)) {
		if k := s.SuiteSignedBy[suite]; !strings.HasPrefix(k, "/") {
			e.errorf(a.rng("signed_by"), "Invalid signed by", "The keyring of suite %s, %q, is not an absolute path; write it from the root.", suite, k)
		}
		if explicit && s.Repository == "" && s.SuiteRepositories[suite] == "" {
			e.errorf(a.rng("signed_by"), "Only with a repository",
				"signed_by names suite %s, which has no repository here; the machine's apt sources carry their own signed-by.", suite)
		}
	}
	s.Trusted = a.boolean("trusted")
	for _, n := range []string{"signed_by", "trusted"} {
		if a.has(n) && !explicit {
			e.errorf(a.rng(n), "Only with a repository",
				"%s applies to an explicit repository; the machine's apt sources carry their own signed-by and trusted options.", n)
		}
	}
	if (s.SignedBy != "" || len(s.SuiteSignedBy) > 0) && s.Trusted {
		e.errorf(a.rng("trusted"), "Conflicting arguments", "A deb source checks its repository against signed_by, or trusts it unchecked (trusted = true), not both.")
	}
}

// debPins reads pin = { SUITE = PRIORITY }: apt pin priorities, whole
// numbers other than 0 (which apt leaves undefined).
func debPins(a attrs) map[string]int {
	v, ok := a.get("pin", cty.Map(cty.Number))
	if !ok || v.IsNull() {
		return nil
	}
	out := map[string]int{}
	vals := v.AsValueMap()
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		bf := vals[k].AsBigFloat()
		n, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || n == 0 || n < -1000000 || n > 1000000 {
			a.e.errorf(a.rng("pin"), "Invalid pin priority", "The pin of suite %q must be a whole number other than 0, as in apt_preferences(5): 990 prefers the suite, 100 takes it only when nothing else has the package, -1 never takes it.", k)
			continue
		}
		out[k] = int(n)
	}
	return out
}

// debStrOrMap reads an attribute that is a string (for every suite) or a
// map from suite names to strings (each suite its own), the map's keys
// checked against the suites listed.
func debStrOrMap(a attrs, name string, listed map[string]bool) (string, map[string]string) {
	at := a.at(name)
	if at == nil {
		return "", nil
	}
	v, ok := a.e.value(at.Expr, scopeAll)
	if !ok || v.IsNull() {
		return "", nil
	}
	if v.Type().IsPrimitiveType() {
		return a.str(name), nil
	}
	m := a.strMap(name)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !listed[k] {
			a.e.errorf(a.rng(name), "Unlisted suite", "%s names suite %q, which suite does not list.", name, k)
		}
	}
	return "", m
}
