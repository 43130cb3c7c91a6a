package compiler

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/lang"
)

// ociLayoutSource lowers source "oci-layout": identified by its path in
// the build folder, pinned per platform like an image.
type ociLayoutSource struct{}

var _ imageSourceKind = ociLayoutSource{}

func (ociLayoutSource) imageConfig() {}

func (ociLayoutSource) lower(c *compiler, src *lang.Source, platform string, op *SourceOp, d *Derivation) hcl.Diagnostics {
	op.Identifier = cleanRel(src.Path)
	d.Platform = platform
	c.pin(src, platform, op, d)
	d.Description = "read OCI layout " + op.Identifier
	return nil
}
