package lang

import (
	"os"
	"strings"
	"testing"
)

// TestDocsExamplesParse keeps the language reference honest: every hcl
// example in docs/language.md must at least be valid syntax.
func TestDocsExamplesParse(t *testing.T) {
	doc, err := os.ReadFile("../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(doc), "```hcl\n")
	if len(parts) < 10 {
		t.Fatalf("found %d hcl examples, want one per block", len(parts)-1)
	}
	for i, p := range parts[1:] {
		src := p[:strings.Index(p, "```")]
		if _, diags := Format([]byte(src), "example.hcl"); diags.HasErrors() {
			t.Errorf("example %d does not parse: %v\n%s", i+1, diags, src)
		}
	}
}
