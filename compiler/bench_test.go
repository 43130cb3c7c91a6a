package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/internal/gen"
	"github.com/kiln-build/kiln/lang"
)

// BenchmarkCompileLarge loads and compiles 10,000 stages over 1,000 shared
// sources (internal/gen). The target: under 1 s and 300 MB for
// load+compile on a 2-core machine. "compile" alone isolates the lowering.
func BenchmarkCompileLarge(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "build.hcl"), gen.Large(10000, 1000), 0o644); err != nil {
		b.Fatal(err)
	}
	hash := func(string, []string, []string) (string, error) { return "sha256:" + zeros, nil }
	load := func(b *testing.B) *lang.Config {
		cfg, diags := lang.NewLoader(lang.Options{}).Load(filepath.Join(dir, "build.hcl"))
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		return cfg
	}
	b.Run("load+compile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, diags := Compile(load(b), []string{"app"}, Options{LocalHash: hash}); diags.HasErrors() {
				b.Fatal(diags.Error())
			}
		}
	})
	// The part of kiln plan after compiling that is the graph's: the
	// derivations the targets need, in order.
	b.Run("closure", func(b *testing.B) {
		g, diags := Compile(load(b), []string{"app"}, Options{LocalHash: hash})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			b.ReportMetric(float64(len(g.Closure(TargetRoots(g.Targets)...))), "derivations")
		}
	})
	b.Run("compile", func(b *testing.B) {
		cfg := load(b)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			g, diags := Compile(cfg, []string{"app"}, Options{LocalHash: hash})
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			b.ReportMetric(float64(len(g.Nodes)), "derivations")
		}
	})
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"
