package resolve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
)

// fakeDeb is a deb resolver whose one package's version is the number of
// times the suite was "published" (bump), so updates can be seen.
type fakeDeb struct {
	mu      sync.Mutex
	version int
	asked   []string
}

func (f *fakeDeb) Resolve(_ context.Context, in *lockfile.Input) (*lockfile.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := in.Source
	f.asked = append(f.asked, s.Architecture)
	v := fmt.Sprintf("1.%d", f.version)
	return &lockfile.Entry{
		Address: in.Address, Type: lockfile.TypeDeb, Suite: s.Suite, Architecture: s.Architecture,
		Packages: append([]string(nil), s.Packages...),
		Debs: []lockfile.Deb{{Name: "hello", Version: v, Architecture: s.Architecture,
			Filename: "pool/h/hello_" + v + "_" + s.Architecture + ".deb", SHA256: strings.Repeat("a", 64), Size: 1}},
	}, nil
}

func loadBuild(t *testing.T, src string) *lang.Config {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "build.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := lang.NewLoader(lang.Options{}).Load(p)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return cfg
}

const twoArchBuild = `
kiln {
  platform = "linux/amd64"
}
source "deb" "tools" {
  packages     = ["hello"]
  suite        = "bookworm"
  architecture = target_arch
}
source "deb" "fixed" {
  packages     = ["hello"]
  suite        = "bookworm"
  architecture = "amd64"
}
stage "s" {
  from = source.deb.tools
}
image "i" {
  from      = stage.s
  platforms = ["linux/amd64", "linux/arm64"]
}
`

// TestUpdateLocksEachArchitecture: a deb source whose architecture is
// target_arch is locked once per architecture the targets are built for,
// a fixed one once; --update moves every architecture together, and a
// target platform more makes the entry stale.
func TestUpdateLocksEachArchitecture(t *testing.T) {
	cfg := loadBuild(t, twoArchBuild)
	f := &fakeDeb{version: 1}
	opts := UpdateOptions{Resolvers: map[string]Resolver{"deb": f}}
	ctx := context.Background()
	l, _, err := Update(ctx, cfg, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := l.Entries["source.deb.tools"]
	if got := strings.Join(e.Arches(), ","); got != "amd64,arm64" {
		t.Fatalf("source.deb.tools locked for %s, want amd64,arm64", got)
	}
	if got := strings.Join(l.Entries["source.deb.fixed"].Arches(), ","); got != "amd64" {
		t.Fatalf("source.deb.fixed locked for %s, want amd64", got)
	}
	if ch := lockfile.Check(cfg, l); len(ch) != 0 {
		t.Fatalf("a fresh lock is not current: %v", ch)
	}
	back, diags := lockfile.Parse(l.Bytes(), "build.lock.hcl")
	if diags.HasErrors() || !back.Entries["source.deb.tools"].Equal(e) {
		t.Fatalf("round trip: %v", diags)
	}

	// A plain lock keeps both; --update moves both together.
	f.version = 2
	l2, changes, err := Update(ctx, cfg, l, opts)
	if err != nil || len(changes) != 0 {
		t.Fatalf("plain lock: %v, %v", changes, err)
	}
	l3, changes, err := Update(ctx, cfg, l2, UpdateOptions{Resolvers: opts.Resolvers, Only: []string{"source.deb.tools"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || !strings.Contains(changes[0].String(), "amd64+arm64") {
		t.Fatalf("--update source.deb.tools: %v", changeLines(changes))
	}
	for _, a := range []string{"amd64", "arm64"} {
		if v := l3.Entries["source.deb.tools"].ForArch(a).Debs[0].Version; v != "1.2" {
			t.Errorf("%s after --update: version %s, want 1.2", a, v)
		}
	}

	// One more target platform: the entry no longer answers build.hcl.
	cfg3 := loadBuild(t, strings.Replace(twoArchBuild, `"linux/arm64"]`, `"linux/arm64", "linux/riscv64"]`, 1))
	ch := lockfile.Check(cfg3, l3)
	if len(ch) != 1 || ch[0].Address != "source.deb.tools" || ch[0].Kind != lockfile.Stale {
		t.Fatalf("a new platform: %v, want source.deb.tools stale", changeLines(ch))
	}
}
