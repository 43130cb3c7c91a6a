package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
)

func newLogCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "log DIGEST",
		Short: "Print the build log of a derivation",
		Long:  "log prints the stdout and stderr a derivation's step wrote when it was built. DIGEST may be abbreviated as 'kiln plan' prints it.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(g)
			if err != nil {
				return err
			}
			defer st.Close()
			d, err := engine.FindLog(st, args[0])
			if err != nil {
				return err
			}
			f, err := os.Open(st.LogPath(d))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(os.Stdout, f)
			return err
		},
	}
}
