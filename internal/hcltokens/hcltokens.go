// Package hcltokens writes values for the HCL files kiln generates (the
// lock file and golden files) in the layout they share, which keeps their
// diffs small in review.
package hcltokens

import (
	"sort"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Map writes a map one key per line, sorted, even when it has one entry,
// so that adding a key adds a line instead of rewriting one. An empty map
// is {}.
func Map(m map[string]string) hclwrite.Tokens {
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
