package compiler

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/lang"
)

// imageSource lowers source "image": identified by its reference, pinned
// per platform to that platform's manifest.
type imageSource struct{}

var _ imageSourceKind = imageSource{}

func (imageSource) imageConfig() {}

func (imageSource) lower(c *compiler, src *lang.Source, platform string, op *SourceOp, d *Derivation) hcl.Diagnostics {
	op.Identifier = src.Ref
	d.Platform = platform
	c.pin(src, platform, op, d)
	d.Description = "pull " + src.Ref
	return nil
}
