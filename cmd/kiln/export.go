package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/targets"
	"github.com/kiln-build/kiln/lang"
)

// exportBuild is what res leaves for export.
func exportBuild(res *buildResult) targets.Build {
	return targets.Build{Store: res.st, Graph: res.graph, Epoch: res.proj.epoch}
}

// exportTargets writes each target's outputs: the --output specs when
// given (one target only), else those declared in its block. It returns the
// metadata of every export, by target address.
func exportTargets(ctx context.Context, res *buildResult, specs []string, force bool) (map[string]export.Metadata, error) {
	mds, err := targets.Export(ctx, targets.Request{
		Build: exportBuild(res), Specs: specs, Dir: res.proj.cfg.Dir, Force: force, Stdout: os.Stdout,
		Exported: func(t *compiler.Target, o export.Output) {
			fmt.Fprintf(os.Stderr, "exported %s to %s\n", t.Address, targets.Describe(o))
		},
	})
	var ue *targets.UsageError
	if errors.As(err, &ue) {
		return nil, &exitError{code: 2, err: err}
	}
	return mds, err
}

// writesStdout reports whether any output of the build, given or declared,
// writes to standard output (type=tar,dest=-).
func writesStdout(res *buildResult, specs []string) bool {
	return targets.WritesStdout(res.graph.Targets, specs)
}

// findBlocks, assembleImage and exportFilesTo keep the shape kiln golden
// calls: the export settings now come with the compiled target, so the
// "blocks" are the target's own and cfg is not read.
func findBlocks(_ *lang.Config, t *compiler.Target) (img, art *compiler.Export) {
	return t.Export, t.Export
}

// assembleImage assembles a target's image into the store as o would
// export it, writing no output.
func assembleImage(res *buildResult, t *compiler.Target, _ *compiler.Export, o export.Output) (*export.Image, export.Output, error) {
	return exportBuild(res).AssembleImage(t, o)
}

// exportFilesTo writes a target's files to a files output, dest=- to
// stdout.
func exportFilesTo(ctx context.Context, res *buildResult, t *compiler.Target, _ *compiler.Export, o export.Output, stdout io.Writer) (export.Metadata, error) {
	return exportBuild(res).ExportFiles(ctx, t, o, stdout)
}

// writeMetadata writes --metadata-file.
func writeMetadata(file string, all map[string]export.Metadata) error {
	b, err := targets.MetadataJSON(all)
	if err != nil {
		return err
	}
	return writeFileAtomic(file, b)
}
