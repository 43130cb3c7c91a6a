package compiler

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/lang"
)

// sourceKind lowers one type of source into its derivation. Each kind
// lives in its own source_TYPE.go; sourceKinds below is the one place they
// are registered.
type sourceKind interface {
	// lower fills the source op (Identifier, Attrs, Pin) and the
	// derivation's Platform, Description and Unresolved for src on
	// platform. What it writes into op is hashed: a kind must keep it
	// exactly as it is (docs/derivations.md).
	lower(c *compiler, src *lang.Source, platform string, op *SourceOp, d *Derivation) hcl.Diagnostics
}

// imageSourceKind is a kind whose state carries an image config: run
// steps on it take PATH and HOME from the image (ExecOp.ImageEnv).
type imageSourceKind interface {
	sourceKind
	imageConfig()
}

// sourceKinds are the source kinds the compiler lowers, by type. A new
// kind adds its file and its line here.
var sourceKinds = map[string]sourceKind{
	"image":      imageSource{},
	"oci-layout": ociLayoutSource{},
	"http":       httpSource{},
	"git":        gitSource{},
	"deb":        debSource{},
	"local":      localSource{},
}

func (c *compiler) source(src *lang.Source, platform string) (node, hcl.Diagnostics) {
	k := sourceKinds[src.Type]
	if k == nil {
		return scratch, diag(src.DeclRange, "Unsupported source type", fmt.Sprintf("kiln cannot build source type %q yet.", src.Type))
	}
	op := &SourceOp{Type: src.Type, MaxSize: src.MaxSize}
	d := &Derivation{Kind: KindSource, SourceDateEpoch: c.epoch, Source: op, Name: src.Address()}
	if diags := k.lower(c, src, platform, op, d); diags.HasErrors() {
		return scratch, diags
	}
	dg, at, err := c.g.addAt(d, nil)
	if err != nil {
		return scratch, diag(src.DeclRange, "Invalid source", err.Error())
	}
	return node{dg, at}, nil
}

// pin sets op's pin from the lock; a source the lock does not pin (or
// pins for another request) leaves d unresolved.
func (c *compiler) pin(src *lang.Source, platform string, op *SourceOp, d *Derivation) {
	pin, ok := "", false
	if c.opts.Pins != nil {
		pin, ok = c.opts.Pins.Pin(src, platform)
	}
	op.Pin = pin
	d.Unresolved = !ok
}
