package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/lang"
)

// FuzzCompile runs the whole compile path on arbitrary build files: parse,
// evaluate, lower, encode. Any input either compiles to a graph whose
// every node has a digest, or yields diagnostics; it never panics.
//
// Run it with -fuzzminimizetime 0: hcl and cty carry so much coverage that
// almost every input is new, and minimizing each one stalls the workers
// (a few execs a minute instead of hundreds a second).
func FuzzCompile(f *testing.F) {
	for _, ex := range []string{"service", "static-site", "shell-tool"} {
		if b, err := os.ReadFile(filepath.Join("..", "examples", ex, "build.hcl")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("stage \"a\" {\n  run {\n    shell = \"true\"\n  }\n}\nimage \"x\" {\n  from = stage.a\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "build.hcl")
		if err := os.WriteFile(p, src, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := lang.NewLoader(lang.Options{}).Load(p)
		if diags.HasErrors() {
			return
		}
		hash := func(string, []string, []string) (string, error) { return "sha256:" + zeros, nil }
		g, diags := Compile(cfg, TargetNames(cfg), Options{LocalHash: hash})
		if diags.HasErrors() {
			return
		}
		for d, n := range g.Nodes {
			got, err := n.Digest()
			if err != nil || got != d {
				t.Fatalf("node %s re-digests to %s (%v)", d, got, err)
			}
		}
		if len(g.Order) != len(g.Nodes) {
			t.Fatalf("order has %d of %d nodes: a cycle slipped through", len(g.Order), len(g.Nodes))
		}
	})
}
