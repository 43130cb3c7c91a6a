package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newLLBCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "llb [TARGET]",
		ValidArgsFunction: completeTargets(g, 1),
		Short:             "Print a target's derivations as a BuildKit LLB definition, for buildctl build",
		Long: `llb prints the state TARGET compiles to (one target, one platform) as
the LLB definition 'buildctl build' reads on its standard input: exec steps
as llb.Run, file steps as llb.File, merges and diffs as llb.Merge and
llb.Diff. Sources are fetched into kiln's store first and named as local
sources; the buildctl flags that pass their directories are printed on
standard error:

  kiln llb app | buildctl build $(kiln llb app 2>&1 >/dev/null) --output type=local,dest=out

What buildctl builds is BuildKit's result, which kiln has not normalised:
to get kiln's outputs on buildkitd, use kiln build --buildkit ADDR.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.open(newRenderer(g, false), nil)
			if err != nil {
				return err
			}
			defer s.Close()
			def, locals, err := s.LLB(cmd.Context(), args)
			if err != nil {
				return err
			}
			for _, l := range locals {
				fmt.Fprintf(os.Stderr, "--local %s=%s\n", l.Name, l.Dir)
			}
			_, err = os.Stdout.Write(def)
			return err
		},
	}
}
