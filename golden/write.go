package golden

import (
	"fmt"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/kiln-build/kiln/internal/atomicfile"
	"github.com/kiln-build/kiln/internal/hcltokens"
)

// Bytes returns the file in normal form: the header, the version, then one
// block per target sorted by address, nested blocks and attributes in a
// fixed order, every list and map one value per line. Equal files give
// equal bytes, and a change to one target changes only its block.
func (f *File) Bytes() []byte {
	w := hclwrite.NewEmptyFile()
	body := w.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{Bytes: []byte(Header)}, {Bytes: []byte("\n")}})
	body.SetAttributeValue("version", cty.NumberIntVal(Version))
	for _, addr := range f.Addresses() {
		t := f.Targets[addr]
		body.AppendNewline()
		b := body.AppendNewBlock(t.Kind, []string{t.Name}).Body()
		switch t.Kind {
		case "image":
			first := true
			for _, ix := range t.Indexes {
				if !first {
					b.AppendNewline()
				}
				first = false
				b.AppendNewBlock("index", []string{ix.Compression}).Body().SetAttributeValue("digest", cty.StringVal(ix.Digest))
			}
			for _, m := range t.Manifests {
				if !first {
					b.AppendNewline()
				}
				first = false
				mb := b.AppendNewBlock("manifest", []string{m.Platform, m.Compression}).Body()
				mb.SetAttributeValue("digest", cty.StringVal(m.Digest))
				mb.SetAttributeValue("config", cty.StringVal(m.Config))
				mb.SetAttributeRaw("diff_ids", listTokens(m.DiffIDs))
				mb.SetAttributeRaw("blobs", listTokens(m.Blobs))
			}
		case "artifact":
			b.SetAttributeValue("sha256", cty.StringVal(t.SHA256))
			if t.Files != nil {
				b.SetAttributeRaw("files", hcltokens.Map(t.Files))
			}
		}
	}
	return hclwrite.Format(w.Bytes())
}

// listTokens writes a list one value per line, so that a moved layer is a
// one-line change in review.
func listTokens(vs []string) hclwrite.Tokens {
	ts := hclwrite.Tokens{{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")}, {Type: hclsyntax.TokenNewline, Bytes: []byte("\n")}}
	for _, v := range vs {
		ts = append(ts, hclwrite.TokensForValue(cty.StringVal(v))...)
		ts = append(ts, &hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")}, &hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")})
	}
	return append(ts, &hclwrite.Token{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")})
}

// WriteFile writes f to path atomically: a temporary file in the same
// folder, synced, renamed over path. A failure leaves the old file as it
// was.
func WriteFile(path string, f *File) error {
	if err := atomicfile.WriteFile(path, f.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing golden file %s: %w", path, err)
	}
	return nil
}
