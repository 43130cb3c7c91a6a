package main

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/golden"
	"github.com/kiln-build/kiln/internal/remotedef"
)

type goldenFlags struct {
	build  buildFlags
	files  bool
	golden string
}

func newGoldenCmd(g *globals) *cobra.Command {
	var f goldenFlags
	cmd := &cobra.Command{
		Use:   "golden",
		Short: "Record and check the digests of the outputs in build.golden.hcl",
		Long: `golden keeps build.golden.hcl next to build.hcl: for each image its
manifest and config digests per platform and compression, with the layers'
diff_ids beside their blob digests; for each artifact the sha256 of its tar
(as -o type=tar writes it) and, with --files, of every file in it.

  kiln golden update [TARGET...]  build and (re)record the targets: without
                                  names, those already recorded, or the
                                  default targets for a new file
  kiln golden check [TARGET...]   build (or read the store) and exit 1 with
                                  the differences when an output moved`,
	}
	update := &cobra.Command{
		Use:               "update [TARGET...]",
		ValidArgsFunction: completeTargets(g, 0),
		Short:             "Build the targets and record their output digests",
		Args:              cobra.ArbitraryArgs,
		RunE:              func(cmd *cobra.Command, args []string) error { return goldenUpdate(cmd.Context(), g, f, args) },
	}
	check := &cobra.Command{
		Use:               "check [TARGET...]",
		ValidArgsFunction: completeTargets(g, 0),
		Short:             "Build the targets and compare their output digests with build.golden.hcl",
		Args:              cobra.ArbitraryArgs,
		RunE:              func(cmd *cobra.Command, args []string) error { return goldenCheck(cmd.Context(), g, f, args) },
	}
	for _, c := range []*cobra.Command{update, check} {
		fl := c.Flags()
		fl.StringVar(&f.golden, "golden", "", "the golden file (default build.golden.hcl next to the build file)")
		fl.IntVarP(&f.build.jobs, "jobs", "j", runtime.NumCPU(), "derivations built at once")
		fl.BoolVar(&f.build.locked, "locked", os.Getenv("CI") != "", "refuse to build when build.lock.hcl is incomplete or stale (default when CI is set)")
		fl.StringArrayVar(&f.build.secrets, "secret", nil, "a secret for secret mounts: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
		fl.BoolVar(&f.build.allowInsecure, "allow-insecure", false, allowInsecureUsage)
		buildKitFlags(c, &f.build)
	}
	update.Flags().BoolVar(&f.files, "files", false, "also record the sha256 of every file of each artifact")
	cmd.AddCommand(update, check)
	return cmd
}

func (f goldenFlags) path(g *globals) string {
	if f.golden != "" {
		return f.golden
	}
	if remotedef.IsRemote(g.file) {
		return "" // read says why
	}
	return golden.Path(g.file)
}

// readGolden reads the golden file, refusing one found next to the build
// file that leads outside its folder (one named with --golden is the
// user's choice); a missing one is nil, nil when tolerated.
func (f goldenFlags) read(path string, missingOK bool) (*golden.File, error) {
	if path == "" {
		return nil, usageErrorf("the build file is a remote definition, so there is no folder to find build.golden.hcl in: name the golden file with --golden FILE")
	}
	if f.golden == "" {
		if err := engine.InBuildFolder(path, "the golden file"); err != nil {
			return nil, err
		}
	}
	return engine.ReadGolden(path, missingOK)
}

// openGolden starts the build session of a golden command.
func openGolden(g *globals, f goldenFlags) (*engine.Session, error) {
	r, err := newBuildRenderer(g, true)
	if err != nil {
		return nil, err
	}
	return g.open(r, &f.build)
}

func goldenCheck(ctx context.Context, g *globals, f goldenFlags, args []string) error {
	ctx, stop := interruptible(ctx)
	defer stop()
	path := f.path(g)
	gf, err := f.read(path, false)
	if err != nil {
		return err
	}
	s, err := openGolden(g, f)
	if err != nil {
		return err
	}
	defer s.Close()
	changes, n, err := s.GoldenCheck(ctx, gf, path, args, nil)
	printChanges(changes)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d target(s) match\n", path, n)
	return nil
}

func goldenUpdate(ctx context.Context, g *globals, f goldenFlags, args []string) error {
	ctx, stop := interruptible(ctx)
	defer stop()
	path := f.path(g)
	old, err := f.read(path, true)
	if err != nil {
		return err
	}
	s, err := openGolden(g, f)
	if err != nil {
		return err
	}
	defer s.Close()
	changes, err := s.GoldenUpdate(ctx, old, path, args, f.files, nil)
	if err != nil {
		return err
	}
	printChanges(changes)
	if len(changes) == 0 {
		fmt.Fprintf(os.Stderr, "%s is up to date\n", path)
	}
	return nil
}
