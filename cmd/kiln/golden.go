package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/golden"
	"github.com/kiln-build/kiln/lang"
)

func init() { subcommands = append(subcommands, newGoldenCmd) }

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

// checkPath refuses a golden file found next to the build file that leads
// outside its folder; one named with --golden is the user's choice.
func (f goldenFlags) checkPath(path string) error {
	if f.golden != "" {
		return nil
	}
	return inBuildFolder(path, "the golden file")
}

// readGolden reads the golden file; a missing one is nil, nil when
// tolerated.
func readGolden(path string, missingOK bool) (*golden.File, error) {
	gf, err := golden.Read(path)
	if errors.Is(err, golden.ErrNotExist) {
		if missingOK {
			return nil, nil
		}
		return nil, &exitError{code: 1, err: err}
	}
	if err != nil {
		return nil, &exitError{code: 1, err: fmt.Errorf("%w\nfix %s or rewrite it with 'kiln golden update'", err, path)}
	}
	return gf, nil
}

// staleTargets lists the recorded targets that build.hcl no longer has,
// as file:line: errors.
func staleTargets(cfg *lang.Config, path string, gf *golden.File) []string {
	var out []string
	for _, a := range gf.Addresses() {
		t := gf.Targets[a]
		if !hasTarget(cfg, t.Kind, t.Name) {
			out = append(out, fmt.Sprintf("%s:%d:%d: %s is recorded but %s has no such target", path, t.DefRange.Start.Line, t.DefRange.Start.Column, a, cfg.Filename))
		}
	}
	return out
}

func hasTarget(cfg *lang.Config, kind, name string) bool {
	switch kind {
	case "image":
		return slices.ContainsFunc(cfg.Images, func(i *lang.Image) bool { return i.Name == name })
	case "artifact":
		return slices.ContainsFunc(cfg.Artifacts, func(a *lang.Artifact) bool { return a.Name == name })
	}
	return false
}

func goldenCheck(ctx context.Context, g *globals, f goldenFlags, args []string) error {
	path := f.path(g)
	if err := f.checkPath(path); err != nil {
		return err
	}
	gf, err := readGolden(path, false)
	if err != nil {
		return err
	}
	p, err := loadProject(g)
	if err != nil {
		return err
	}
	if stale := staleTargets(p.cfg, path, gf); len(stale) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%s\nrun 'kiln golden update' to drop it", strings.Join(stale, "\n"))}
	}
	targets := args
	if len(targets) == 0 {
		targets = gf.Addresses()
		if len(targets) == 0 {
			return &exitError{code: 1, err: fmt.Errorf("%s records no targets: run 'kiln golden update TARGET...'", path)}
		}
	}
	// Record files only where the golden file does, so a check compares
	// like with like.
	withFiles := func(addr string) bool { return gf.Targets[addr] != nil && gf.Targets[addr].Files != nil }
	got, res, err := recordGolden(ctx, g, f.build, targets, withFiles)
	if err != nil {
		return err
	}
	defer res.st.Close()
	var addrs []string
	for _, t := range res.graph.Targets {
		addrs = append(addrs, t.Address)
	}
	changes := golden.Diff(gf, got, addrs)
	for _, c := range changes {
		fmt.Println(c.String())
	}
	if len(changes) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%s does not match the build (%d difference(s)): if the change is intended, run 'kiln golden update' and commit the result", path, len(changes))}
	}
	fmt.Fprintf(os.Stderr, "%s: %d target(s) match\n", path, len(addrs))
	return nil
}

func goldenUpdate(ctx context.Context, g *globals, f goldenFlags, args []string) error {
	path := f.path(g)
	if err := f.checkPath(path); err != nil {
		return err
	}
	old, err := readGolden(path, true)
	if err != nil {
		return err
	}
	p, err := loadProject(g)
	if err != nil {
		return err
	}
	next := golden.New()
	targets := args
	if old != nil {
		for a, t := range old.Targets {
			if hasTarget(p.cfg, t.Kind, t.Name) {
				next.Targets[a] = t // kept; one no longer built is dropped, and Diff reports it
			}
		}
		if len(targets) == 0 {
			for _, a := range old.Addresses() {
				if t := old.Targets[a]; hasTarget(p.cfg, t.Kind, t.Name) {
					targets = append(targets, a)
				}
			}
		}
	}
	withFiles := func(addr string) bool {
		if f.files {
			return true
		}
		return old != nil && old.Targets[addr] != nil && old.Targets[addr].Files != nil
	}
	got, res, err := recordGolden(ctx, g, f.build, targets, withFiles)
	if err != nil {
		return err
	}
	defer res.st.Close()
	for a, t := range got.Targets {
		next.Targets[a] = t
	}
	changes := golden.Diff(old, next, nil)
	b := next.Bytes()
	cur, _ := os.ReadFile(path)
	if !bytes.Equal(cur, b) {
		if err := golden.WriteFile(path, next); err != nil {
			return err
		}
	}
	for _, c := range changes {
		fmt.Println(c.String())
	}
	if len(changes) == 0 {
		fmt.Fprintf(os.Stderr, "%s is up to date\n", path)
	}
	return nil
}

// recordGolden builds the targets and records their output identities
// without writing any output: images are assembled into the store as
// kiln build would export them, artifacts' tars are hashed as they stream.
// withFiles says which artifacts get per-file digests (nil: none). The
// caller closes res.st.
func recordGolden(ctx context.Context, g *globals, f buildFlags, targets []string, withFiles func(string) bool) (*golden.File, *buildResult, error) {
	res, err := runBuild(ctx, g, f, targets)
	if err != nil {
		return nil, nil, err
	}
	gf, err := recordResult(ctx, res, withFiles)
	if err != nil {
		res.st.Close()
		return nil, nil, err
	}
	return gf, res, nil
}

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
