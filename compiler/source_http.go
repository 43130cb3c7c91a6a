package compiler

import (
	"fmt"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/lang"
)

// httpSource lowers source "http": identified by its URL, the file name
// and mode it is stored under, pinned to its sha256.
type httpSource struct{}

var _ sourceKind = httpSource{}

func (httpSource) lower(c *compiler, src *lang.Source, platform string, op *SourceOp, d *Derivation) hcl.Diagnostics {
	op.Identifier = src.URL
	name := src.Filename
	if name == "" {
		name = path.Base(strings.SplitN(src.URL, "?", 2)[0])
	}
	mode := src.Mode
	if mode == 0 {
		mode = 0o644
	}
	op.Attrs = map[string]string{"filename": name, "mode": fmt.Sprintf("%04o", mode)}
	c.pin(src, platform, op, d)
	d.Description = "download " + src.URL
	return nil
}
