package examples

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
	"github.com/kiln-build/kiln/realize/source"
)

var update = flag.Bool("update", false, "rewrite the examples' plan.golden files")

// names lists the example folders.
func names(t *testing.T) []string {
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(e.Name(), "build.hcl")); err == nil {
			out = append(out, e.Name())
		}
	}
	if len(out) < 3 {
		t.Fatalf("want at least 3 examples, found %v", out)
	}
	return out
}

// copyExample copies an example into dir with a fresh busybox rootfs.
func copyExample(t *testing.T, name, dir string) {
	t.Helper()
	if out, err := exec.Command("cp", "-r", name+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", name, err, out)
	}
	os.RemoveAll(filepath.Join(dir, "rootfs"))
	if err := testutil.WriteBusyboxRootfs(filepath.Join(dir, "rootfs"), testutil.Busybox(t)); err != nil {
		t.Fatal(err)
	}
}

// plan compiles every target of the build file in dir and renders the
// graph as the golden text: one line per derivation, inputs first.
func plan(t *testing.T, dir string) string {
	t.Helper()
	cfg, diags := lang.NewLoader(lang.Options{}).Load(filepath.Join(dir, "build.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	lock, err := lockfile.Read(filepath.Join(dir, "build.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	targets := compiler.TargetNames(cfg)
	g, diags := compiler.Compile(cfg, targets, compiler.Options{
		Pins: lock,
		LocalHash: func(d string, in, ex []string) (string, error) {
			return source.LocalHash(d, in, ex, nil)
		},
	})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var b strings.Builder
	for _, d := range g.Order {
		n := g.Nodes[d]
		fmt.Fprintf(&b, "%s %-6s %s\n", d, n.Kind, n.Name)
	}
	for _, tg := range g.Targets {
		for _, p := range tg.Platforms {
			fmt.Fprintf(&b, "target %s %s %s\n", tg.Address, p, tg.States[p])
		}
	}
	return b.String()
}

// TestPlansAreStable compiles each example in two different folders and
// compares with the checked-in plan.golden. A busybox-static upgrade moves
// the digests of everything built on it; -update records that.
func TestPlansAreStable(t *testing.T) {
	for _, name := range names(t) {
		t.Run(name, func(t *testing.T) {
			a, b := t.TempDir(), filepath.Join(t.TempDir(), "elsewhere", "deeper")
			if err := os.MkdirAll(b, 0o755); err != nil {
				t.Fatal(err)
			}
			copyExample(t, name, a)
			copyExample(t, name, b)
			pa, pb := plan(t, a), plan(t, b)
			if pa != pb {
				t.Fatalf("the plan depends on the folder:\n%s\nvs\n%s", pa, pb)
			}
			golden := filepath.Join(name, "plan.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(pa), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./examples -update)", err)
			}
			if !bytes.Equal(want, []byte(pa)) {
				t.Fatalf("plan of %s moved (if intended: go test ./examples -update):\n got:\n%s\nwant:\n%s", name, pa, want)
			}
		})
	}
}
