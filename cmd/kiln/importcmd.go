package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/dockerimport"
	"github.com/kiln-build/kiln/internal/atomicfile"
)

func newImportCmd(g *globals) *cobra.Command {
	var (
		target, output, context string
		contexts                []string
		force                   bool
	)
	cmd := &cobra.Command{
		Use:   "import DOCKERFILE",
		Short: "Translate a Dockerfile into an equivalent build.hcl",
		Long: `import reads a Dockerfile with BuildKit's own parser and writes a build.hcl
that builds the same image: stages, FROM images as sources for kiln lock,
ARGs as variables, and the target stage's config as an image block.
What it cannot translate it prints on stderr, each with its Dockerfile
line, and writes as a comment in the output. See docs/import.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			named := map[string]string{}
			for _, kv := range contexts {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" || v == "" {
					return usageErrorf("--build-context %q: want NAME=VALUE", kv)
				}
				named[k] = v
			}
			src, err := os.ReadFile(args[0])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			// The context is relative to the build file's folder.
			ctxDir := filepath.Join(".", context)
			if output != "" && output != "-" {
				ctxDir = filepath.Join(filepath.Dir(output), context)
			}
			res, err := dockerimport.Convert(src, dockerimport.Options{
				Filename: args[0], Target: target, Context: context, Contexts: named,
				IsFile: func(p string) bool {
					fi, err := os.Stat(filepath.Join(ctxDir, p))
					return err == nil && fi.Mode().IsRegular()
				},
			})
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			for _, n := range res.Notes {
				fmt.Fprintf(os.Stderr, "%s:%d: %s: %s\n", args[0], n.Line, n.Instruction, n.Message)
			}
			if output == "" || output == "-" {
				_, err := os.Stdout.Write(res.HCL)
				return err
			}
			if !force {
				if _, err := os.Lstat(output); err == nil {
					return &exitError{code: 1, err: fmt.Errorf("%s exists: pass --force to replace it", output)}
				}
			}
			if err := atomicfile.WriteFile(output, res.HCL, 0o644); err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(os.Stderr, "wrote %s (image %q); %d note(s); next: kiln lock\n", output, res.Image, len(res.Notes))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "", "the stage to build (default: the last)")
	f.StringVarP(&output, "output", "o", "", "write the build file here (default: stdout)")
	f.StringVar(&context, "context", ".", "the build context, as a path relative to the output's folder")
	f.StringArrayVar(&contexts, "build-context", nil, "NAME=oci-layout://PATH[:TAG], NAME=docker-image://REF or NAME=FOLDER: what FROM NAME and --from=NAME mean (repeatable)")
	f.BoolVar(&force, "force", false, "replace the output file if it exists")
	return cmd
}
