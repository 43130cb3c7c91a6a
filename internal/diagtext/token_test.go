package diagtext

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const shadow = "root:$6$TOPSECRETSALT$hashhashhashhashhashhash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"

func TestValidHCL(t *testing.T) {
	for src, want := range map[string]bool{
		"a = 1\n":          true,
		"kiln {\n}\n":      true,
		shadow:             false,
		"a = \"\xff\"\n":   false,
		"kiln {\n  x y\n}": false,
	} {
		if got := ValidHCL("f.hcl", []byte(src)); got != want {
			t.Errorf("ValidHCL(%q) = %v", src, got)
		}
	}
	if !ValidHCL("f.json", []byte(`{"a": 1}`)) || ValidHCL("f.json", []byte(shadow)) {
		t.Error("JSON files are judged as JSON")
	}
}

// TestWriteTokenOnly: a shadow file's diagnostics show the position and a
// capped token, never a line or its secret parts.
func TestWriteTokenOnly(t *testing.T) {
	_, diags := hclsyntax.ParseConfig([]byte(shadow), "x.kilnvars.hcl", hcl.InitialPos)
	if !diags.HasErrors() {
		t.Fatal("shadow parsed")
	}
	var b bytes.Buffer
	for _, d := range diags {
		WriteTokenOnly(&b, d, []byte(shadow))
	}
	out := b.String()
	for _, secret := range []string{"TOPSECRET", "hashhash", "19000", "99999"} {
		if strings.Contains(out, secret) {
			t.Errorf("output quotes %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "x.kilnvars.hcl line 1, column 1") {
		t.Errorf("no position:\n%s", out)
	}

	long := strings.Repeat("A", 100)
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bad", Detail: `The symbol "` + long + `" is not valid.`,
		Subject: &hcl.Range{Filename: "f", Start: hcl.Pos{Line: 1, Column: 1, Byte: 0}, End: hcl.Pos{Line: 1, Column: 101, Byte: 100}}}
	b.Reset()
	WriteTokenOnly(&b, d, []byte(long+"\nsecond line\n"))
	if strings.Contains(b.String(), strings.Repeat("A", MaxToken+1)) || strings.Contains(b.String(), "second") {
		t.Errorf("long token or detail not capped:\n%s", b.String())
	}
}

// FuzzToken: whatever the bytes and range, the token is one line of at
// most MaxToken bytes of src, quoted.
func FuzzToken(f *testing.F) {
	f.Add([]byte(shadow), 0, 4)
	f.Add([]byte("\x1b[31mred\n"), 0, 8)
	f.Add([]byte("héllo wörld"), 1, 11)
	f.Fuzz(func(t *testing.T, src []byte, start, end int) {
		tok := Token(src, hcl.Range{Start: hcl.Pos{Byte: start}, End: hcl.Pos{Byte: end}})
		if tok == "" {
			return
		}
		q := strings.TrimSuffix(tok, "...")
		s, err := strconv.Unquote(q)
		if err != nil {
			t.Fatalf("token %s is not a quoted string: %v", tok, err)
		}
		if len(s) > MaxToken || strings.ContainsAny(s, "\r\n") {
			t.Fatalf("token %s too long or spans lines", tok)
		}
		if !bytes.Contains(src, []byte(s)) {
			t.Fatalf("token %s is not from src", tok)
		}
	})
}
