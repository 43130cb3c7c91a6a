package compiler

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/lang"
)

// gitSource lowers source "git": identified by its remote, pinned to a
// commit. The ref asked for is not hashed: the commit says it all.
type gitSource struct{}

var _ sourceKind = gitSource{}

func (gitSource) lower(c *compiler, src *lang.Source, platform string, op *SourceOp, d *Derivation) hcl.Diagnostics {
	op.Identifier = src.URL
	if src.KeepGitDir {
		op.Attrs = map[string]string{"keep_git_dir": "true"}
	}
	c.pin(src, platform, op, d)
	d.Description = "clone " + src.URL
	if src.GitRef != "" {
		d.Description += " " + src.GitRef
	}
	return nil
}
