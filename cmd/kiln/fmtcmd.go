package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/internal/atomicfile"
	"github.com/kiln-build/kiln/lang"
)

func newFmtCmd(g *globals) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt [FILE...]",
		Short: "Rewrite build files in canonical format (like terraform fmt)",
		Long: `fmt rewrites each file (default: the build file) in kiln's canonical
HCL layout. With --check it changes nothing, lists the files that are not
formatted and exits 1 if there are any.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			files := args
			if len(files) == 0 {
				files = []string{g.file}
				if g.file == defaultBuildFile {
					if err := engine.InBuildFolder(g.file, "the build file it finds by itself"); err != nil {
						return err
					}
				}
			}
			unformatted := 0
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				out, diags := lang.Format(src, f)
				if diags.HasErrors() {
					printDiags(g, map[string]*hcl.File{f: {Bytes: src}}, diags)
					return errReported
				}
				if bytes.Equal(src, out) {
					continue
				}
				unformatted++
				if check {
					fmt.Println(f)
					continue
				}
				if err := atomicfile.Replace(f, out); err != nil {
					return err
				}
				fmt.Println(f)
			}
			if check && unformatted > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d file(s) not formatted: run 'kiln fmt'", unformatted)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "list unformatted files and exit 1 instead of rewriting")
	return cmd
}
