package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func newShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "show DIGEST|TARGET",
		ValidArgsFunction: completeTargets(g, 1),
		Short:             "Print a derivation in its canonical encoding (what its digest hashes)",
		Long: `show prints the canonical JSON of a derivation: exactly the bytes whose
sha256 is its digest. DIGEST may be abbreviated (at least 4 hex digits) and is
looked up among the derivations of the default targets; a TARGET prints the
state each of its platforms compiles to.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.open(newRenderer(g, false), nil)
			if err != nil {
				return err
			}
			defer s.Close()
			graph, show, err := s.Show(args[0])
			if err != nil {
				return err
			}
			// A target's states are labelled with their platforms, so that
			// a multi-platform target's are told apart.
			platforms := map[string][]string{}
			for _, t := range graph.Targets {
				for _, pl := range t.Platforms {
					if st := t.States[pl]; st != "" {
						platforms[st.String()] = append(platforms[st.String()], pl)
					}
				}
			}
			for _, d := range show {
				b, err := graph.Nodes[d].Canonical()
				if err != nil {
					return err
				}
				label := ""
				if ps := platforms[d.String()]; len(ps) > 0 {
					label = " (" + strings.Join(ps, ", ") + ")"
				}
				fmt.Fprintf(os.Stderr, "# %s %s%s\n", d, graph.Nodes[d].Name, label)
				os.Stdout.Write(append(b, '\n'))
			}
			return nil
		},
	}
}
