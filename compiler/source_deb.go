package compiler

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/lang"
)

// debSource lowers source "deb": identified by suite and architecture,
// pinned to the whole closure the lock resolved.
type debSource struct{}

var _ sourceKind = debSource{}

func (debSource) lower(c *compiler, src *lang.Source, platform string, op *SourceOp, d *Derivation) hcl.Diagnostics {
	if src.Suite == "" || src.Architecture == "" || len(src.Packages) == 0 {
		return diag(src.DeclRange, "Incomplete deb source", fmt.Sprintf("%s needs packages, suite and architecture, for example suite = \"bookworm\" and architecture = \"amd64\".", src.Address()))
	}
	op.Identifier = src.Suite + "/" + src.Architecture
	op.Attrs = map[string]string{"request": strings.Join(src.Packages, " ")}
	c.pin(src, platform, op, d)
	if op.Pin != "" {
		// The lock's pin is the whole closure (lockfile.DebManifest):
		// the realizer needs every file and hash, and the digest then
		// covers exactly what is installed.
		op.Attrs["packages"] = op.Pin
		op.Pin = digest.FromString(op.Pin).String()
	}
	op.Mirror = src.Repository
	op.Mirrors = src.SuiteRepositories
	d.Description = "debian " + op.Identifier + ": " + op.Attrs["request"]
	return nil
}
