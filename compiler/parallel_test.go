package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/gen"
	"github.com/kiln-build/kiln/lang"
)

// compileDump compiles src on procs CPUs and writes out everything the
// graph holds in the order it holds it (nodes in the order they were
// added, then the topological order), or the diagnostics; it reports
// how many stages were compiled ahead.
func compileDump(t *testing.T, src []byte, procs int) (string, int) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "build.hcl"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := lang.NewLoader(lang.Options{}).Load(filepath.Join(dir, "build.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ahead := 0
	compiledAhead = func(needed, lowered int) {
		if !strings.Contains(string(src), "stage.empty") && lowered != needed {
			t.Errorf("compiled %d stages ahead of the %d needed", lowered, needed)
		}
		ahead += lowered
	}
	defer func() { compiledAhead = nil }()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	hash := func(dir string, _, _ []string) (string, error) {
		return "sha256:" + zeros[:56] + fmt.Sprintf("%08d", len(dir)), nil
	}
	g, diags := Compile(cfg, []string{"app"}, Options{LocalHash: hash})
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "diag %v %s: %s: %s\n", d.Severity, d.Subject, d.Summary, d.Detail)
	}
	if g == nil {
		return strings.ReplaceAll(b.String(), dir, "DIR"), ahead
	}
	for i, dg := range g.seq {
		n := g.Nodes[dg]
		canon, err := n.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "node %s %q %q %v %v %s\n", dg, n.Name, n.Description, n.Unresolved, g.inputsOf(i), canon)
	}
	for _, dg := range g.Order {
		fmt.Fprintf(&b, "order %s\n", dg)
	}
	for _, tg := range g.Targets {
		fmt.Fprintf(&b, "target %s %v\n", tg.Address, tg.States)
	}
	return b.String(), ahead
}

// TestCompileAheadIsTheSerialCompile: the large generated file compiles
// on one CPU (serially) and on several (ahead, on workers) to the same
// graph, byte for byte, every time.
func TestCompileAheadIsTheSerialCompile(t *testing.T) {
	src := gen.Large(1500, 150)
	want, ahead := compileDump(t, src, 1)
	if ahead != 0 {
		t.Fatalf("one CPU compiled %d stages ahead, want none", ahead)
	}
	for run := range 4 {
		procs := 2 + run%3
		got, ahead := compileDump(t, src, procs)
		if ahead < 500 {
			t.Fatalf("GOMAXPROCS %d compiled %d stages ahead, want all that app needs", procs, ahead)
		}
		if got != want {
			t.Fatalf("GOMAXPROCS %d, run %d: the graph differs from the serial compile's", procs, run)
		}
	}
}

// TestCompileAheadReportsErrorsAsSerial: an invalid step in an early
// stage, in a late one, or in both, gives the serial compile's
// diagnostics, in its order.
func TestCompileAheadReportsErrorsAsSerial(t *testing.T) {
	// A spoiled stage copies from an empty stage, which only the
	// compiler finds wrong.
	spoil := func(src []byte, stages ...int) []byte {
		s := string(src)
		for _, n := range stages {
			head := fmt.Sprintf("stage \"s%d\" {\n", n)
			i := strings.Index(s, head)
			old, repl := "from = source.local.", "from = stage.empty\n    #"
			j := i + strings.Index(s[i:], old)
			s = s[:j] + repl + s[j+len(old):]
		}
		return []byte(s + "stage \"empty\" {\n}\n")
	}
	for _, stages := range [][]int{{3}, {1499}, {1495}, {3, 1499}, {1493, 12}} {
		src := spoil(gen.Large(1500, 150), stages...)
		want, _ := compileDump(t, src, 1)
		if !strings.Contains(want, "diag") {
			t.Fatalf("stages %v: the serial compile found no error:\n%.500s", stages, want)
		}
		for procs := 2; procs <= 4; procs++ {
			if got, _ := compileDump(t, src, procs); got != want {
				t.Errorf("stages %v, GOMAXPROCS %d: got\n%s\nwant\n%s", stages, procs, got, want)
			}
		}
	}
}
