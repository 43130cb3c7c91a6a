package lang

import "github.com/hashicorp/hcl/v2"

// imageSource is source "image": an image pulled from a registry.
type imageSource struct{}

var _ sourceKind = imageSource{}

var imageSourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "ref", Required: true}, {Name: "platforms"}, {Name: "max_size"}}}

func (imageSource) name() string            { return "image" }
func (imageSource) schema() *hcl.BodySchema { return imageSourceSchema }

func (imageSource) decode(e *evaluator, _ *hcl.Block, a attrs, s *Source) {
	s.Ref = a.str("ref")
	if a.has("ref") && s.Ref == "" {
		e.errorf(a.rng("ref"), "Invalid image reference", "ref must name an image, like \"docker.io/library/alpine:3.20\".")
	}
	s.Platforms = a.platforms("platforms")
}
