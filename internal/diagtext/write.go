package diagtext

import (
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// Write renders diags for a person at a terminal or reading a CI log:
// width wraps hcl's rendering (0: no wrapping), color adds its colours.
func Write(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, width uint, color bool) {
	// Each diagnostic starts with a file:line,col line that editors and CI
	// log viewers link to, then hcl's own rendering with the source line.
	wr := hcl.NewDiagnosticTextWriter(w, files, width, color)
	// A file that is not valid HCL may be anything a path led to (a key, a
	// password file): its lines are never printed, and only its first
	// diagnostic is, with the position and the start of the offending
	// token; one per line would quote the start of every line.
	invalid := map[string]bool{}
	first := map[string]*hcl.Diagnostic{}
	hidden := map[string]int{}
	for _, d := range diags {
		if d.Subject == nil {
			continue
		}
		name := d.Subject.Filename
		bad, seen := invalid[name]
		if !seen {
			f := files[name]
			bad = f != nil && !ValidHCL(name, f.Bytes)
			invalid[name] = bad
		}
		if !bad {
			continue
		}
		if cur := first[name]; cur == nil || d.Subject.Start.Byte < cur.Subject.Start.Byte {
			first[name] = d
		}
		hidden[name]++
	}
	for _, d := range diags {
		if d.Subject == nil {
			wr.WriteDiagnostic(d)
			continue
		}
		name := d.Subject.Filename
		if invalid[name] {
			if first[name] != d {
				continue
			}
			fmt.Fprintf(w, "%s: %s\n", d.Subject, d.Summary)
			WriteTokenOnly(w, d, files[name].Bytes)
			if n := hidden[name] - 1; n > 0 {
				fmt.Fprintf(w, "%d more problem(s) in %s not shown: fix this one and run again.\n\n", n, name)
			}
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", d.Subject, d.Summary)
		wr.WriteDiagnostic(d)
	}
}
