package lang

import (
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/internal/gen"
)

// BenchmarkSerialPhases times the parts of loading the large file that run
// on one core, around the parallel decode of its stages: cutting it into
// chunks, planning the stage chunks, and the checks once every stage is
// decoded.
func BenchmarkSerialPhases(b *testing.B) {
	src := gen.Large(10000, 1000)
	dir := b.TempDir()
	b.Run("splitChunks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			splitChunks(src)
		}
	})
	cs := splitChunks(src)
	b.Run("planStages", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := planStages(src, "build.hcl", cs); !ok {
				b.Fatal("cannot plan")
			}
		}
	})
	cfg, diags := NewLoader(Options{}).load(src, "build.hcl", dir)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	b.Run("checkStageCycles", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := newEvaluator(NewLoader(Options{}), "build.hcl", dir)
			e.checkStageCycles(cfg)
			if len(e.diags) > 0 {
				b.Fatal(e.diags)
			}
		}
	})
	b.Run("checkTargets", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := newEvaluator(NewLoader(Options{}), "build.hcl", dir)
			e.checkTargets(cfg)
			if len(e.diags) > 0 {
				b.Fatal(e.diags)
			}
		}
	})
}

// BenchmarkBeforeStages evaluates what the large file's stages refer to
// (functions, variables, locals, sources), its other blocks parsed once
// beforehand, as loadOnePass does before decoding the stages.
func BenchmarkBeforeStages(b *testing.B) {
	src := gen.Large(10000, 1000)
	plan, rest, ok := planStages(src, "build.hcl", splitChunks(src))
	if !ok {
		b.Fatal("cannot plan")
	}
	files, ok := parseChunks(src, "build.hcl", rest)
	if !ok {
		b.Fatal("syntax error")
	}
	bodies := make([]hcl.Body, len(files))
	for i, f := range files {
		bodies[i] = f.Body
	}
	body := hcl.MergeBodies(bodies)
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		e := newEvaluator(NewLoader(Options{}), "build.hcl", dir)
		e.beforeStages(body, plan.names)
		if len(e.diags) > 0 {
			b.Fatal(e.diags)
		}
	}
}
