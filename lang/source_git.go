package lang

import "github.com/hashicorp/hcl/v2"

// gitSource is source "git": a commit of a git repository.
type gitSource struct{}

var _ sourceKind = gitSource{}

var gitSourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "url", Required: true}, {Name: "ref"}, {Name: "keep_git_dir"}, {Name: "max_size"}}}

func (gitSource) name() string            { return "git" }
func (gitSource) schema() *hcl.BodySchema { return gitSourceSchema }

func (gitSource) decode(_ *evaluator, _ *hcl.Block, a attrs, s *Source) {
	s.URL = a.str("url")
	s.GitRef = a.str("ref")
	s.KeepGitDir = a.boolean("keep_git_dir")
}
