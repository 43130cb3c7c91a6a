package lang

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/kiln-build/kiln/internal/gen"
)

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
