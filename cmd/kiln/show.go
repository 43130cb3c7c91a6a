package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/compiler"
)

func init() { subcommands = append(subcommands, newShowCmd) }

func newShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show DIGEST|TARGET",
		Short: "Print a derivation in its canonical encoding (what its digest hashes)",
		Long: `show prints the canonical JSON of a derivation: exactly the bytes whose
sha256 is its digest. DIGEST may be abbreviated (at least 4 hex digits) and is
looked up among the derivations of the default targets; a TARGET prints the
state each of its platforms compiles to.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(g)
			if err != nil {
				return err
			}
			arg := args[0]
			var graph *compiler.Graph
			if looksLikeDigest(arg) {
				graph, err = p.compile(g, compiler.TargetNames(p.cfg), nil)
			} else {
				graph, err = p.compile(g, []string{arg}, nil)
			}
			if err != nil {
				return err
			}
			var show []digest.Digest
			if looksLikeDigest(arg) {
				want := strings.TrimPrefix(arg, "sha256:")
				for d := range graph.Nodes {
					if strings.HasPrefix(d.Encoded(), want) {
						show = append(show, d)
					}
				}
				if len(show) == 0 {
					return fmt.Errorf("no derivation %s in %s's targets: 'kiln plan' lists them", arg, p.cfg.Filename)
				}
				if len(show) > 1 {
					sort.Slice(show, func(i, j int) bool { return show[i] < show[j] })
					return usageErrorf("%s is ambiguous (%d derivations); give more digits", arg, len(show))
				}
			} else {
				for _, t := range graph.Targets {
					for _, pl := range t.Platforms {
						if s := t.States[pl]; s != "" {
							show = append(show, s)
						}
					}
				}
			}
			for _, d := range show {
				b, err := graph.Nodes[d].Canonical()
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "# %s %s\n", d, graph.Nodes[d].Name)
				os.Stdout.Write(append(b, '\n'))
			}
			return nil
		},
	}
}

func looksLikeDigest(s string) bool {
	h := strings.TrimPrefix(s, "sha256:")
	if len(h) < 4 || len(h) > 64 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
