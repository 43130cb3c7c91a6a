package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
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
				b.SetAttributeRaw("files", mapTokens(t.Files))
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

// mapTokens writes a map one key per line, sorted, even with one entry.
func mapTokens(m map[string]string) hclwrite.Tokens {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]hclwrite.ObjectAttrTokens, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, hclwrite.ObjectAttrTokens{
			Name:  hclwrite.TokensForValue(cty.StringVal(k)),
			Value: hclwrite.TokensForValue(cty.StringVal(m[k])),
		})
	}
	if len(attrs) == 0 {
		return hclwrite.Tokens{{Type: hclsyntax.TokenOBrace, Bytes: []byte("{")}, {Type: hclsyntax.TokenCBrace, Bytes: []byte("}")}}
	}
	return hclwrite.TokensForObject(attrs)
}

// WriteFile writes f to path atomically: a temporary file in the same
// folder, synced, renamed over path. A failure leaves the old file as it
// was.
func WriteFile(path string, f *File) (err error) {
	dir := filepath.Dir(path)
	tmpf, err := os.CreateTemp(dir, "."+strings.TrimSuffix(filepath.Base(path), ".hcl")+".*")
	if err != nil {
		return fmt.Errorf("writing golden file: %w", err)
	}
	tmp := tmpf.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err = tmpf.Write(f.Bytes()); err == nil {
		if err = tmpf.Chmod(0o644); err == nil {
			err = tmpf.Sync()
		}
	}
	if cerr := tmpf.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("writing golden file %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
