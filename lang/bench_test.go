package lang

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/kiln-build/kiln/internal/gen"
	"github.com/kiln-build/kiln/internal/par"
)

// BenchmarkLoadLarge loads 10,000 stages over 1,000 sources. The baselines
// parse the same bytes with hcl, in one piece and in kiln's chunks on every
// core; parse-chunked is kiln's own parse of those chunks (fastParse, hcl
// for what it leaves), and load adds evaluation and decoding.
func BenchmarkLoadLarge(b *testing.B) {
	src := gen.Large(10000, 1000)
	dir := b.TempDir()
	b.Run("hcl-parse-whole", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, diags := hclsyntax.ParseConfig(src, "build.hcl", hcl.InitialPos); diags.HasErrors() {
				b.Fatal(diags)
			}
		}
	})
	b.Run("hcl-parse-chunked", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			cs := splitChunks(src)
			par.Each(len(cs), func(i int) {
				if _, diags := hclsyntax.ParseConfig(cs[i].bytes(src), "build.hcl", cs[i].pos); diags.HasErrors() {
					b.Error(diags)
				}
			})
		}
	})
	b.Run("parse-chunked", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, ok := parseChunked(src, "build.hcl", splitChunks(src)); !ok {
				b.Fatal("a chunk has a syntax error")
			}
		}
	})
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			l := NewLoader(Options{})
			cfg, diags := l.load(src, "build.hcl", dir)
			if diags.HasErrors() {
				b.Fatal(diags)
			}
			if len(cfg.Stages) != 10000 || len(cfg.Sources) != 1000 {
				b.Fatalf("got %d stages, %d sources", len(cfg.Stages), len(cfg.Sources))
			}
		}
	})
}

// BenchmarkDecodeStages decodes the 10,000 stages of the large file on one
// core, parsed once beforehand: the decode half of BenchmarkLoadLarge/load
// alone, for profiling it.
func BenchmarkDecodeStages(b *testing.B) {
	src := gen.Large(10000, 1000)
	f, diags := hclsyntax.ParseConfig(src, "build.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	e := newEvaluator(NewLoader(Options{}), "build.hcl", b.TempDir())
	_, top := e.beforeStages(f.Body, nil)
	b.ReportAllocs()
	for b.Loop() {
		for _, blk := range top.stages {
			f := e.fork()
			f.decodeStage(blk)
			if len(f.diags) > 0 {
				b.Fatal(f.diags)
			}
		}
	}
}

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
	for _, c := range []struct {
		name  string
		check func(*evaluator, *Config)
	}{
		{"checkStageCycles", (*evaluator).checkStageCycles},
		{"checkTargets", (*evaluator).checkTargets},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e := newEvaluator(NewLoader(Options{}), "build.hcl", dir)
				c.check(e, cfg)
				if len(e.diags) > 0 {
					b.Fatal(e.diags)
				}
			}
		})
	}
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
