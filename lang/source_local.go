package lang

import "github.com/hashicorp/hcl/v2"

// localSource is source "local": files of the build file's own folder.
type localSource struct{}

var _ sourceKind = localSource{}

var localSourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "path"}, {Name: "include"}, {Name: "exclude"}}}

func (localSource) name() string            { return "local" }
func (localSource) schema() *hcl.BodySchema { return localSourceSchema }

func (localSource) decode(e *evaluator, _ *hcl.Block, a attrs, s *Source) {
	s.Path = "."
	if a.has("path") {
		s.Path = e.relPath(a, "path")
	}
	s.Include = a.strs("include")
	s.Exclude = a.strs("exclude")
}
