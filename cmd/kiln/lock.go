package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/lockfile"
)

func newLockCmd(g *globals) *cobra.Command {
	var update, check, merge, allowInsecure bool
	var jobs int
	cmd := &cobra.Command{
		Use:   "lock [--update [INPUT...]] [--check] [--merge BASE OURS THEIRS]",
		Short: "Pin every external input of build.hcl in build.lock.hcl",
		Long: `lock resolves every input that build.lock.hcl lacks or whose request
(tag, branch, URL, path) changed, removes entries no longer in build.hcl, and
never moves an entry that still matches. It prints one line per change,
ready for a commit message.

  --update [INPUT...]  re-resolve the named inputs (all without names)
  --check              change nothing; exit 1 with the differences when the
                       lock does not match build.hcl (for CI)
  --merge O A B        git merge driver: union of both sides' blocks, written
                       to A (see docs/lockfile.md for the .gitattributes line)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if merge {
				if len(args) != 3 {
					return usageErrorf("--merge takes BASE OURS THEIRS (git's %%O %%A %%B)")
				}
				return lockfile.MergeFiles(args[0], args[1], args[2])
			}
			if !update && len(args) > 0 {
				return usageErrorf("inputs are named only with --update")
			}
			r, err := newBuildRenderer(g, false)
			if err != nil {
				return err
			}
			opts, err := g.options()
			if err != nil {
				return err
			}
			opts.TolerateAbnormalLock, opts.AllowInsecure, opts.Events = true, allowInsecure, r.event
			s, err := engine.Open(opts)
			if err != nil {
				return err
			}
			defer s.Close()
			if check {
				changes, err := s.LockCheck()
				printChanges(changes)
				return err
			}
			changes, err := s.LockUpdate(cmd.Context(), engine.LockOptions{Update: update, Only: args, Jobs: jobs})
			printChanges(changes)
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&update, "update", false, "re-resolve the named inputs, or all of them")
	fl.BoolVar(&check, "check", false, "exit 1 with a diff when the lock does not match build.hcl; change nothing")
	fl.BoolVar(&merge, "merge", false, "act as git's merge driver: kiln lock --merge %O %A %B")
	fl.IntVarP(&jobs, "jobs", "j", 8, "inputs resolved at once")
	fl.BoolVar(&allowInsecure, "allow-insecure", false, allowInsecureUsage)
	return cmd
}

// printChanges prints one line per change, ready for a commit message.
func printChanges[C fmt.Stringer](changes []C) {
	for _, c := range changes {
		fmt.Println(c.String())
	}
}
