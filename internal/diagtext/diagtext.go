// Package diagtext prints hcl diagnostics as plain error text, for the
// packages that return them through an error instead of to the CLI's
// diagnostic writer.
package diagtext

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Lines prints diags one per line as file:line:col: summary: detail.
func Lines(diags hcl.Diagnostics) string {
	var b strings.Builder
	for i, d := range diags {
		if i > 0 {
			b.WriteByte('\n')
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": ")
			b.WriteString(d.Detail)
		}
	}
	return b.String()
}
