package diagtext

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/json"

	"github.com/kiln-build/kiln/internal/lazyre"
)

// MaxToken caps how much of a file that is not valid HCL a diagnostic
// quotes. Such a file may be anything a path led to (a key, a password
// file): the position and the first bytes of the offending token are
// enough to find the mistake, and little enough to leak nothing useful.
const MaxToken = 16

// ValidHCL reports whether src parses cleanly as the HCL (or, for a .json
// name, JSON) file it claims to be. Only such files' lines are shown in
// diagnostics.
func ValidHCL(name string, src []byte) bool {
	if !utf8.Valid(src) {
		return false
	}
	var diags hcl.Diagnostics
	if strings.HasSuffix(name, ".json") {
		_, diags = json.Parse(src, name)
	} else {
		_, diags = hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	}
	return !diags.HasErrors()
}

// Token returns the start of the text rng covers in src, on one line,
// capped at MaxToken bytes and quoted so that control characters and
// terminal escapes show as escapes. It is "" when rng covers nothing.
func Token(src []byte, rng hcl.Range) string {
	start, end := rng.Start.Byte, rng.End.Byte
	if start < 0 || start >= len(src) {
		return ""
	}
	if end > len(src) || end < start {
		end = len(src)
	}
	tok := src[start:end]
	if i := strings.IndexAny(string(tok), "\r\n"); i >= 0 {
		tok = tok[:i]
	}
	cut := false
	if len(tok) > MaxToken {
		// Quote escapes a rune cut in half like any invalid byte.
		tok, cut = tok[:MaxToken], true
	}
	if len(tok) == 0 {
		return ""
	}
	q := strconv.Quote(string(tok))
	if cut {
		q += "..."
	}
	return q
}

// quoted finds the double-quoted text in hcl's details, which is where
// they repeat parts of the source (an identifier, a keyword).
var quoted = lazyre.New(`"(?:[^"\\]|\\.)*"`)

// capQuoted shortens every quoted part of s longer than MaxToken.
func capQuoted(s string) string {
	return quoted.ReplaceAllStringFunc(s, func(q string) string {
		inner := q[1 : len(q)-1]
		if len(inner) <= MaxToken {
			return q
		}
		return `"` + strings.ToValidUTF8(inner[:MaxToken], "") + `..."`
	})
}

// WriteTokenOnly writes d as hcl's text writer does, except that in place
// of the source lines it names the position and quotes the offending token
// (Token), and quoted source in the detail is capped the same way. It is
// for diagnostics about a file that is not valid HCL (src, its bytes).
func WriteTokenOnly(w io.Writer, d *hcl.Diagnostic, src []byte) {
	sev := "Error"
	if d.Severity == hcl.DiagWarning {
		sev = "Warning"
	}
	fmt.Fprintf(w, "%s: %s\n\n", sev, capQuoted(d.Summary))
	if d.Subject != nil {
		at := fmt.Sprintf("  on %s line %d, column %d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		if tok := Token(src, *d.Subject); tok != "" {
			at += ", at " + tok
		}
		fmt.Fprintf(w, "%s (the file is not valid HCL, so its lines are not shown)\n\n", at)
	}
	if d.Detail != "" {
		fmt.Fprintf(w, "%s\n\n", capQuoted(d.Detail))
	}
}
