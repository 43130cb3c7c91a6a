package main

import (
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/kiln-build/kiln/internal/diagtext"
)

func printDiags(g *globals, files map[string]*hcl.File, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	color := !g.noColor && os.Getenv("NO_COLOR") == "" && isTerminal(os.Stderr)
	width := uint(0)
	if color {
		if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil {
			width = uint(w)
		}
	}
	diagtext.Write(os.Stderr, files, diags, width, color)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
