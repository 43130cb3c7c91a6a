package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
)

// completeTargets completes target names from the build file that -f
// names (cobra parses the flags first). max bounds the arguments that
// are targets (0: any number). A build file that does not load completes
// nothing: completion must never print errors into the shell.
func completeTargets(g *globals, max int) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if max > 0 && len(args) >= max {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		opts, err := g.options()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		opts.TolerateAbnormalLock = true
		s, err := engine.Open(opts)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer s.Close()
		var out []string
		for _, n := range s.TargetNames() {
			if strings.HasPrefix(n, toComplete) && !slices.Contains(args, n) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
