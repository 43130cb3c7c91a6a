package golden

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/kiln-build/kiln/internal/diagtext"
	"github.com/kiln-build/kiln/internal/lazyre"
)

// ErrNotExist is returned by Read when there is no golden file.
var ErrNotExist = errors.New("no golden file")

// DiagnosticsError carries Parse's diagnostics through an error, one per
// line as file:line:col: summary: detail.
type DiagnosticsError struct {
	Diags hcl.Diagnostics
}

func (e *DiagnosticsError) Error() string { return diagtext.Lines(e.Diags) }

// Read reads and parses the golden file at path; a missing file wraps
// ErrNotExist.
func Read(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: run 'kiln golden update' to record one", ErrNotExist, path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading golden file: %w", err)
	}
	f, diags := Parse(src, path)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags}
	}
	return f, nil
}

var (
	rootSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "version", Required: true}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "image", LabelNames: []string{"name"}}, {Type: "artifact", LabelNames: []string{"name"}}},
	}
	imageSchema = &hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "index", LabelNames: []string{"compression"}},
			{Type: "manifest", LabelNames: []string{"platform", "compression"}},
		},
	}
	indexSchema    = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "digest", Required: true}}}
	manifestSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "digest", Required: true}, {Name: "config", Required: true},
		{Name: "diff_ids", Required: true}, {Name: "blobs", Required: true},
	}}
	artifactSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "sha256", Required: true}, {Name: "files"}}}

	digestRe = lazyre.New(`^sha256:[0-9a-f]{64}$`)
	hexRe    = lazyre.New(`^[0-9a-f]{64}$`)
)

// Parse parses a golden file. Every problem is a diagnostic with the file,
// line and column: unknown blocks or attributes, values of the wrong type
// or shape, duplicates, and a version newer than this kiln reads.
func Parse(src []byte, filename string) (*File, hcl.Diagnostics) {
	hf, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	content, d := hf.Body.Content(rootSchema)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	f := New()
	attr := content.Attributes["version"]
	v, d := attr.Expr.Value(nil)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	if v.Type() != cty.Number || !v.IsKnown() || v.IsNull() {
		return nil, append(diags, errAt(attr.Expr.Range(), "Invalid golden file version", "version must be a whole number"))
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || n < 1 {
		return nil, append(diags, errAt(attr.Expr.Range(), "Invalid golden file version", "version must be a whole number from 1"))
	}
	if n > Version {
		return nil, append(diags, errAt(attr.Expr.Range(), "Golden file from a newer kiln",
			fmt.Sprintf("this is format version %d; this kiln reads version %d: upgrade kiln", n, Version)))
	}
	f.Version = int(n)
	for _, blk := range content.Blocks {
		t := &Target{Kind: blk.Type, Name: blk.Labels[0], DefRange: blk.DefRange}
		if prev, ok := f.Targets[t.Address()]; ok {
			diags = append(diags, errAt(blk.DefRange, "Duplicate target", fmt.Sprintf("%s is already recorded at line %d", t.Address(), prev.DefRange.Start.Line)))
			continue
		}
		switch blk.Type {
		case "image":
			diags = append(diags, parseImage(blk, t)...)
		case "artifact":
			diags = append(diags, parseArtifact(blk, t)...)
		}
		f.Targets[t.Address()] = t
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return f, diags
}

func parseImage(blk *hcl.Block, t *Target) hcl.Diagnostics {
	content, diags := blk.Body.Content(imageSchema)
	if diags.HasErrors() {
		return diags
	}
	seen := map[string]bool{}
	for _, b := range content.Blocks {
		key := b.Type + " " + strings.Join(b.Labels, " ")
		if seen[key] {
			diags = append(diags, errAt(b.DefRange, "Duplicate block", fmt.Sprintf("%s %q is given twice", b.Type, b.Labels)))
			continue
		}
		seen[key] = true
		switch b.Type {
		case "index":
			c, d := b.Body.Content(indexSchema)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			ix := Index{Compression: b.Labels[0]}
			ix.Digest, d = str(c.Attributes["digest"], digestRe, "a sha256:<64 hex> digest")
			diags = append(diags, d...)
			t.Indexes = append(t.Indexes, ix)
		case "manifest":
			c, d := b.Body.Content(manifestSchema)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			m := Manifest{Platform: b.Labels[0], Compression: b.Labels[1]}
			m.Digest, d = str(c.Attributes["digest"], digestRe, "a sha256:<64 hex> digest")
			diags = append(diags, d...)
			m.Config, d = str(c.Attributes["config"], digestRe, "a sha256:<64 hex> digest")
			diags = append(diags, d...)
			m.DiffIDs, d = list(c.Attributes["diff_ids"])
			diags = append(diags, d...)
			m.Blobs, d = list(c.Attributes["blobs"])
			diags = append(diags, d...)
			t.Manifests = append(t.Manifests, m)
		}
	}
	t.sort()
	return diags
}

func parseArtifact(blk *hcl.Block, t *Target) hcl.Diagnostics {
	c, diags := blk.Body.Content(artifactSchema)
	if diags.HasErrors() {
		return diags
	}
	var d hcl.Diagnostics
	t.SHA256, d = str(c.Attributes["sha256"], hexRe, "64 hex digits")
	diags = append(diags, d...)
	if a, ok := c.Attributes["files"]; ok {
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			return diags
		}
		if !v.Type().IsObjectType() && !v.Type().IsMapType() || v.IsNull() {
			return append(diags, errAt(a.Expr.Range(), "Invalid files", "files must be a map of path = sha256"))
		}
		t.Files = map[string]string{}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if ev.Type() != cty.String || ev.IsNull() || !hexRe.MatchString(ev.AsString()) {
				diags = append(diags, errAt(a.Expr.Range(), "Invalid files", fmt.Sprintf("files[%q] must be 64 hex digits", k.AsString())))
				continue
			}
			t.Files[k.AsString()] = ev.AsString()
		}
	}
	return diags
}

func str(a *hcl.Attribute, re *lazyre.Regexp, want string) (string, hcl.Diagnostics) {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return "", diags
	}
	if v.Type() != cty.String || v.IsNull() || !re.MatchString(v.AsString()) {
		return "", append(diags, errAt(a.Expr.Range(), "Invalid "+a.Name, a.Name+" must be "+want))
	}
	return v.AsString(), diags
}

func list(a *hcl.Attribute) ([]string, hcl.Diagnostics) {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return nil, diags
	}
	if !(v.Type().IsTupleType() || v.Type().IsListType()) || v.IsNull() {
		return nil, append(diags, errAt(a.Expr.Range(), "Invalid "+a.Name, a.Name+" must be a list of sha256:<64 hex> digests"))
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.Type() != cty.String || ev.IsNull() || !digestRe.MatchString(ev.AsString()) {
			return nil, append(diags, errAt(a.Expr.Range(), "Invalid "+a.Name, a.Name+" must be a list of sha256:<64 hex> digests"))
		}
		out = append(out, ev.AsString())
	}
	return out, diags
}

func errAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()}
}
