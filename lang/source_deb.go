package lang

import "github.com/hashicorp/hcl/v2"

// debSource is source "deb": packages resolved against a Debian
// repository (docs/deb.md).
type debSource struct{}

var _ sourceKind = debSource{}

var debSourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "packages", Required: true}, {Name: "suite"}, {Name: "architecture"}, {Name: "repository"},
	{Name: "signed_by"}, {Name: "trusted"}, {Name: "max_size"}}}

func (debSource) name() string            { return "deb" }
func (debSource) schema() *hcl.BodySchema { return debSourceSchema }

func (debSource) decode(e *evaluator, _ *hcl.Block, a attrs, s *Source) {
	s.Packages = a.strs("packages")
	if a.has("packages") && len(s.Packages) == 0 {
		e.errorf(a.rng("packages"), "No packages", "List at least one package.")
	}
	s.Suite = a.str("suite")
	s.Architecture = a.str("architecture")
	s.Repository = a.str("repository")
	s.SignedBy = a.absPath("signed_by")
	s.Trusted = a.boolean("trusted")
	for _, n := range []string{"signed_by", "trusted"} {
		if a.has(n) && s.Repository == "" {
			e.errorf(a.rng(n), "Only with a repository",
				"%s applies to an explicit repository; the machine's apt sources carry their own signed-by and trusted options.", n)
		}
	}
	if s.SignedBy != "" && s.Trusted {
		e.errorf(a.rng("trusted"), "Conflicting arguments", "A deb source checks its repository against signed_by, or trusts it unchecked (trusted = true), not both.")
	}
}
