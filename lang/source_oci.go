package lang

import "github.com/hashicorp/hcl/v2"

// ociLayoutSource is source "oci-layout": an image read from an OCI
// layout inside the build file's folder.
type ociLayoutSource struct{}

var _ sourceKind = ociLayoutSource{}

var ociLayoutSourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "path", Required: true}, {Name: "ref"}, {Name: "max_size"}}}

func (ociLayoutSource) name() string            { return "oci-layout" }
func (ociLayoutSource) schema() *hcl.BodySchema { return ociLayoutSourceSchema }

func (ociLayoutSource) decode(e *evaluator, _ *hcl.Block, a attrs, s *Source) {
	s.Path = "."
	if a.has("path") {
		s.Path = e.relPath(a, "path")
	}
	s.Ref = a.str("ref")
}
