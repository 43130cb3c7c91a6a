package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/compiler"
)

func newGraphCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "graph [TARGET...]",
		ValidArgsFunction: completeTargets(g, 0),
		Short:             "Print the derivation graph in Graphviz dot format",
		Example:           `  kiln graph app | dot -Tsvg > graph.svg`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.open(newRenderer(g, false), nil)
			if err != nil {
				return err
			}
			defer s.Close()
			graph, err := s.Compile(args)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(os.Stdout)
			writeDot(w, graph)
			return w.Flush()
		},
	}
}

func writeDot(w *bufio.Writer, graph *compiler.Graph) {
	fmt.Fprintln(w, "digraph kiln {")
	fmt.Fprintln(w, "  rankdir=BT;")
	fmt.Fprintln(w, "  node [shape=box, fontname=\"monospace\"];")
	order := graph.Closure(compiler.TargetRoots(graph.Targets)...)
	for _, d := range order {
		n := graph.Nodes[d]
		label := fmt.Sprintf("%s\n%s %s", n.Name, n.Kind, short(d))
		style := ""
		if n.Unresolved {
			style = ", style=dashed"
		}
		fmt.Fprintf(w, "  %q [label=%s%s];\n", short(d), strconv.Quote(label), style)
	}
	for _, d := range order {
		for _, in := range graph.Nodes[d].Inputs {
			fmt.Fprintf(w, "  %q -> %q;\n", short(in), short(d))
		}
	}
	for _, t := range graph.Targets {
		for _, pl := range t.Platforms {
			if s := t.States[pl]; s != "" {
				fmt.Fprintf(w, "  %q [shape=ellipse];\n  %q -> %q;\n", t.Address+" "+pl, short(s), t.Address+" "+pl)
			}
		}
	}
	fmt.Fprintln(w, "}")
}
