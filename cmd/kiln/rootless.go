package main

import (
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/internal/rootless"
	"github.com/kiln-build/kiln/store"
)

// rootlessCommands are the top-level commands that open a store or run
// steps: run by a normal user, they run again inside a user namespace
// (internal/rootless). The others (fmt, plan, version, ...) run as they are.
var rootlessCommands = map[string]bool{
	"build": true, "lock": true, "golden": true, "verify": true, "verify-rebuild": true,
	"log": true, "store": true, "cache": true, "show": true, "graph": true,
}

// enterRootless is the root command's PersistentPreRunE: for a normal user
// and a command that needs it, it checks that the store is the user's and
// runs the command (args, all of kiln's arguments) in a user namespace,
// returning its exit code as an already reported error.
func enterRootless(g *globals, args []string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if !rootless.Needed() {
			return nil
		}
		top := cmd
		for top.HasParent() && top.Parent().HasParent() {
			top = top.Parent()
		}
		if !rootlessCommands[top.Name()] {
			return nil
		}
		if err := store.CheckOwner(engine.StoreRoot(g.store)); err != nil {
			return err
		}
		code, err := rootless.Enter(args)
		if err != nil {
			return err
		}
		return &exitError{code: code, err: errReported}
	}
}
