package compiler

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/internal/infolder"
	"github.com/kiln-build/kiln/lang"
)

// localSource lowers source "local": identified by its path in the build
// folder, pinned to the hash of the files it selects (Options.LocalHash),
// never by the lock.
type localSource struct{}

var _ sourceKind = localSource{}

func (localSource) lower(c *compiler, src *lang.Source, _ string, op *SourceOp, d *Derivation) hcl.Diagnostics {
	op.Identifier = cleanRel(src.Path)
	if c.opts.LocalHash == nil {
		return diag(src.DeclRange, "Cannot hash local source", "kiln was built without a local source hasher; this is a bug.")
	}
	// lang refused symlinks leading out when it read the path; checked
	// again here because the hash is what gets built.
	dir, err := infolder.Join(c.cfg.Dir, filepath.FromSlash(op.Identifier))
	if err != nil {
		return diag(src.DeclRange, "Local source outside the build folder", fmt.Sprintf("The path of %s, %q, leads outside the build file's folder (%v); only its folder and sub-folders can be sources.", src.Address(), op.Identifier, err))
	}
	h, err := c.opts.LocalHash(dir, src.Include, src.Exclude)
	if err != nil {
		return diag(src.DeclRange, "Cannot read local source", fmt.Sprintf("Hashing %s: %v.", src.Address(), err))
	}
	op.Pin = h
	// Patterns shape the copied set; the hash already covers what they
	// select, but a different selection of the same files is a different
	// request, so they are part of the identity too.
	if len(src.Include) > 0 || len(src.Exclude) > 0 {
		op.Attrs = map[string]string{}
		if len(src.Include) > 0 {
			op.Attrs["include"] = strings.Join(src.Include, "\n")
		}
		if len(src.Exclude) > 0 {
			op.Attrs["exclude"] = strings.Join(src.Exclude, "\n")
		}
	}
	d.Description = "local " + op.Identifier
	return nil
}
