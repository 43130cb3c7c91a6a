package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/realize/sandbox"
)

// version is set with -ldflags "-X main.version=..." by release builds;
// otherwise the module version from the build info is used.
var version = ""

func kilnVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newVersionCmd(g *globals) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print kiln's version",
		Long: `Print kiln's version.

With -v, also say which program the build steps' sandboxes start as their
init: kiln-init (found through $KILN_INIT, next to kiln or on PATH, and
built from kiln's libcontainer), or else kiln's own binary, and why.`,
		Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Printf("kiln %s %s %s/%s\n", kilnVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if verbose {
				if p, err := sandbox.InitBinary(); err != nil {
					fmt.Printf("sandbox init: kiln's own binary: %v\n", err)
				} else {
					fmt.Printf("sandbox init: %s (matches this kiln)\n", p)
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also say which init the build steps' sandboxes start")
	return cmd
}
