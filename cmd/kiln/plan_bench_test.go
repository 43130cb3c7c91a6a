package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/engine"
)

// BenchmarkPrintPlan prints a plan of 46,000 derivations, the size of
// the generated 10,000-stage project's, to /dev/null.
func BenchmarkPrintPlan(b *testing.B) {
	var entries []engine.PlanEntry
	for i := range 46000 {
		d := digest.NewDigestFromBytes(digest.SHA256, func() []byte { s := sha256.Sum256([]byte(fmt.Sprint(i))); return s[:] }())
		e := engine.PlanEntry{Digest: d, Kind: "exec", Status: engine.StatusUnresolved,
			Name: fmt.Sprintf("stage.s%d/run[%d]", i/5, i%5), Description: fmt.Sprintf("run /bin/sh -c 'install -D build/s%d /out/s%d-1.0'", i/5, i/5)}
		if i%100 == 0 {
			e.Kind, e.Status, e.Name, e.Description = "source", engine.StatusToBuild, fmt.Sprintf("source.local.dir%d", i/100), fmt.Sprintf("local src/%d", i/100)
		}
		entries = append(entries, e)
	}
	graph := &compiler.Graph{}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	stdout := os.Stdout
	os.Stdout = null
	defer func() { os.Stdout = stdout }()
	b.ReportAllocs()
	for b.Loop() {
		if err := printPlan(graph, entries); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPrintPlanColumns checks the padding of cells that are not ASCII
// (counted in runes) and of digests that are not sha256.
func TestPrintPlanColumns(t *testing.T) {
	entries := []engine.PlanEntry{
		{Digest: "sha256:0123456789abcdef0123", Kind: "exec", Name: "stage.café/run[0]", Description: "run x", Status: engine.StatusToBuild},
		{Digest: "sha512:fedcba9876543210fedc", Kind: "source", Name: "source.local.d", Description: "local d", Status: engine.StatusCached},
		{Digest: "", Kind: "file", Name: "stage.ü", Description: "copy", Status: engine.StatusUnresolved},
	}
	got := printed(t, entries)
	want := "" +
		"0123456789ab  to build    exec    stage.café/run[0]  run x\n" +
		"fedcba987654  cached      source  source.local.d     local d\n" +
		"scratch       unresolved  file    stage.ü            copy\n" +
		"3 derivations: 1 cached, 1 to build, 1 unresolved\n" +
		"Unresolved inputs have no pin in build.lock.hcl, or a stale one ('kiln lock --check' says what changed): run 'kiln lock'.\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestPrintPlanBlocks checks a plan of several blocks against padding
// done cell by cell: widths are of the whole plan, whichever block holds
// the widest or the one non-ASCII cell.
func TestPrintPlanBlocks(t *testing.T) {
	var entries []engine.PlanEntry
	for i := range 3*planBlock + 17 {
		e := engine.PlanEntry{Digest: digest.Digest(fmt.Sprintf("sha256:%064x", i)), Kind: "exec", Status: engine.StatusUnresolved,
			Name: fmt.Sprintf("stage.s%d/run[0]", i), Description: fmt.Sprint("run ", i)}
		switch i {
		case 2*planBlock + 5:
			e.Name = "stage.naïve-and-very-long-name/run[0]"
		case planBlock + 1:
			e.Kind, e.Status = "source", engine.StatusCachedRemote
		}
		entries = append(entries, e)
	}
	got := printed(t, entries)
	var width [4]int
	for i := range entries {
		for c, cell := range planCells(&entries[i]) {
			width[c] = max(width[c], len([]rune(cell)))
		}
	}
	var want strings.Builder
	for i := range entries {
		for c, cell := range planCells(&entries[i]) {
			want.WriteString(cell + strings.Repeat(" ", width[c]+2-len([]rune(cell))))
		}
		want.WriteString(entries[i].Description + "\n")
	}
	fmt.Fprintf(&want, "%d derivations: 1 cached, 0 to build, %d unresolved\n", len(entries), len(entries)-1)
	want.WriteString("Unresolved inputs have no pin in build.lock.hcl, or a stale one ('kiln lock --check' says what changed): run 'kiln lock'.\n")
	if string(got) != want.String() {
		t.Error("the plan differs from one padded cell by cell")
	}
}

// printed is what printPlan writes for entries.
func printed(t *testing.T, entries []engine.PlanEntry) []byte {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "plan")
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = f
	err = printPlan(&compiler.Graph{}, entries)
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return got
}
