package lang

import (
	"testing"

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
