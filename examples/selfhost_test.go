package examples

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
	"github.com/kiln-build/kiln/realize/source"
)

// selfhostGolden records the plan of the root build.hcl (kiln building
// itself), except the derivations that read kiln's own Go files: those
// move with every commit.
const selfhostGolden = "selfhost.plan.golden"

// TestSelfhostPlan checks the lighter half of the self-build, which
// bench/selfhost.sh runs in full (too heavy for CI): the root build.hcl
// compiles, its lock is complete and current, nothing is unresolved, and
// the toolchain part of the plan (Debian packages, the Go toolchain, the
// module download) is as recorded. A go.sum change makes the modules step's
// pin stale on purpose: run kiln lock at the repository root, then -update.
func TestSelfhostPlan(t *testing.T) {
	cfg, diags := lang.NewLoader(lang.Options{}).Load(filepath.Join("..", "build.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	lock, err := lockfile.Read(filepath.Join("..", "build.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if changes := lockfile.Check(cfg, lock); len(changes) > 0 {
		var b strings.Builder
		for _, c := range changes {
			b.WriteString(c.String() + "\n")
		}
		t.Fatalf("build.lock.hcl does not match build.hcl (run kiln lock at the repository root, with GOPROXY set):\n%s", b.String())
	}
	for _, want := range []string{"artifact.kiln", "image.kiln-image"} {
		found := false
		for _, n := range compiler.TargetNames(cfg) {
			found = found || n == want || "artifact."+n == want || "image."+n == want
		}
		if !found {
			t.Errorf("the root build.hcl has no %s target (targets: %v)", want, compiler.TargetNames(cfg))
		}
	}
	g, diags := compiler.Compile(cfg, compiler.TargetNames(cfg), compiler.Options{
		Pins: lock,
		LocalHash: func(d string, in, ex []string) (string, error) {
			return source.LocalHash(d, in, ex, nil)
		},
	})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var repo digest.Digest
	for _, d := range g.Order {
		n := g.Nodes[d]
		if n.Unresolved {
			t.Errorf("%s is unresolved: run kiln lock at the repository root", n.Name)
		}
		if n.Name == "source.local.repo" {
			repo = d
		}
	}
	if repo == "" {
		t.Fatal("no source.local.repo in the plan")
	}
	var b strings.Builder
	for _, d := range g.Order {
		n := g.Nodes[d]
		readsRepo := false
		for _, c := range g.Closure(d) {
			readsRepo = readsRepo || c == repo
		}
		if readsRepo {
			continue
		}
		fmt.Fprintf(&b, "%s %-6s %s\n", d, n.Kind, n.Name)
		if n.Exec != nil && n.Exec.OutputHash != "" {
			fmt.Fprintf(&b, "  fixed output %s impure_env %s\n", n.Exec.OutputHash, strings.Join(n.Exec.ImpureEnv, ","))
		}
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(selfhostGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(selfhostGolden)
	if err != nil {
		t.Fatalf("%v (go test ./examples -run TestSelfhostPlan -update records it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Fatalf("the self-build's toolchain plan moved (if intended: go test ./examples -run TestSelfhostPlan -update):\n got:\n%s\nwant:\n%s", got, want)
	}
}
