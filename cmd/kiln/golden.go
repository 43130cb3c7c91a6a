package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/golden"
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
		Use:   "update [TARGET...]",
		Short: "Build the targets and record their output digests",
		Args:  cobra.ArbitraryArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return goldenUpdate(cmd.Context(), g, f, args) },
	}
	check := &cobra.Command{
		Use:   "check [TARGET...]",
		Short: "Build the targets and compare their output digests with build.golden.hcl",
		Args:  cobra.ArbitraryArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return goldenCheck(cmd.Context(), g, f, args) },
	}
	for _, c := range []*cobra.Command{update, check} {
		fl := c.Flags()
		fl.StringVar(&f.golden, "golden", "", "the golden file (default build.golden.hcl next to the build file)")
		fl.IntVarP(&f.build.jobs, "jobs", "j", runtime.NumCPU(), "derivations built at once")
		fl.BoolVar(&f.build.locked, "locked", os.Getenv("CI") != "", "refuse to build when build.lock.hcl is incomplete or stale (default when CI is set)")
		fl.StringArrayVar(&f.build.secrets, "secret", nil, "a secret for secret mounts: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
		fl.BoolVar(&f.build.allowInsecure, "allow-insecure", false, allowInsecureUsage)
	}
	update.Flags().BoolVar(&f.files, "files", false, "also record the sha256 of every file of each artifact")
	cmd.AddCommand(update, check)
	return cmd
}

func (f goldenFlags) path(g *globals) string {
	if f.golden != "" {
		return f.golden
	}
	return golden.Path(g.file)
}

// readGolden reads the golden file, refusing one found next to the build
// file that leads outside its folder (one named with --golden is the
// user's choice); a missing one is nil, nil when tolerated.
func (f goldenFlags) read(path string, missingOK bool) (*golden.File, error) {
	if f.golden == "" {
		if err := engine.InBuildFolder(path, "the golden file"); err != nil {
			return nil, err
		}
	}
	return engine.ReadGolden(path, missingOK)
}

// openGolden starts the build session of a golden command.
func openGolden(g *globals, f goldenFlags) (*engine.Session, *renderer, error) {
	r, err := newBuildRenderer(g, true)
	if err != nil {
		return nil, nil, err
	}
	s, err := g.open(r, &f.build)
	return s, r, err
}

func goldenCheck(ctx context.Context, g *globals, f goldenFlags, args []string) error {
	ctx, stop := interruptible(ctx)
	defer stop()
	path := f.path(g)
	gf, err := f.read(path, false)
	if err != nil {
		return err
	}
	s, r, err := openGolden(g, f)
	if err != nil {
		return err
	}
	defer s.Close()
	changes, n, err := s.GoldenCheck(ctx, gf, path, args, recorder(s, r))
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
	s, r, err := openGolden(g, f)
	if err != nil {
		return err
	}
	defer s.Close()
	changes, err := s.GoldenUpdate(ctx, old, path, args, f.files, recorder(s, r))
	if err != nil {
		return err
	}
	printChanges(changes)
	if len(changes) == 0 {
		fmt.Fprintf(os.Stderr, "%s is up to date\n", path)
	}
	return nil
}

// recorder records a build's outputs through export.go's assembly, which
// reads a buildResult, until export owns it.
func recorder(s *engine.Session, r *renderer) engine.Recorder {
	return func(ctx context.Context, res *engine.Result, withFiles func(string) bool) (*golden.File, error) {
		return recordResult(ctx, newBuildResult(s, res, r), withFiles)
	}
}

// recordResult records the targets' output identities without writing
// any output: images are assembled into the store as kiln build would
// export them, artifacts' tars are hashed as they stream. withFiles says
// which artifacts get per-file digests (nil: none).
func recordResult(ctx context.Context, res *buildResult, withFiles func(string) bool) (*golden.File, error) {
	gf := golden.New()
	for _, t := range res.graph.Targets {
		img, art := findBlocks(res.proj.cfg, t)
		gt := &golden.Target{Kind: t.Kind, Name: t.Name}
		switch t.Kind {
		case "image":
			o, err := export.ParseOutput("type=oci,dest=golden")
			if err != nil {
				return nil, err
			}
			built, o, err := assembleImage(res, t, img, o)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.Address, err)
			}
			if err := golden.RecordImage(gt, built, golden.CompressionName(o.LayerCompression())); err != nil {
				return nil, fmt.Errorf("%s: %w", t.Address, err)
			}
		case "artifact":
			o, err := export.ParseOutput("type=tar,dest=-")
			if err != nil {
				return nil, err
			}
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			var md export.Metadata
			go func() {
				var err error
				md, err = exportFilesTo(ctx, res, t, art, o, pw)
				pw.CloseWithError(err)
				done <- err
			}()
			sum, files, err := golden.RecordTar(pr, withFiles != nil && withFiles(t.Address))
			pr.CloseWithError(errors.New("stopped reading"))
			if xerr := <-done; xerr != nil {
				return nil, fmt.Errorf("%s: %w", t.Address, xerr)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.Address, err)
			}
			if want, ok := md["artifact.tar.sha256"].(string); ok && want != sum {
				return nil, fmt.Errorf("%s: the tar hashed to %s but the exporter reports %s", t.Address, sum, want)
			}
			gt.SHA256, gt.Files = sum, files
		default:
			return nil, usageErrorf("%s is a %s: golden records images and artifacts", t.Address, t.Kind)
		}
		gf.Put(gt)
	}
	return gf, nil
}
