package lang

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/kiln-build/kiln/internal/gen"
)

// BenchmarkLoadLarge loads 10,000 stages over 1,000 sources; the baselines
// parse the same bytes with hcl in one piece and in kiln's chunks, so the
// cost of evaluation reads as the difference.
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
	b.Run("parse-chunked", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, diags := parseNative(src, "build.hcl"); diags.HasErrors() {
				b.Fatal(diags)
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
