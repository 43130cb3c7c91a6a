package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestConfigErrorsNameLineAndColumn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, src, want string }{
		{"bad size", "gc {\n  keep_bytes = \"lots\"\n}\n", "config.hcl:2:16: Invalid value for keep_bytes"},
		{"bad duration", "gc {\n  sources {\n    keep_duration = \"soon\"\n  }\n}\n", "config.hcl:3:21: Invalid value for sources.keep_duration"},
		{"unknown key", "gc {\n  keep_byte = \"1GB\"\n}\n", "config.hcl:2:3: Unsupported argument: An argument named \"keep_byte\" is not expected here. Did you mean \"keep_bytes\"?"},
		{"syntax", "gc {\n  keep_bytes = \n}\n", "config.hcl:2:"},
		{"unknown block", "gcc {\n}\n", "config.hcl:1:1: Unsupported block type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, ConfigFile), []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(root)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadConfig error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSetConfig(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	c, err := LoadConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	if !c.GC.Auto || c.GC.KeepBytes <= 0 || c.GC.KeepBytes > defaultCap || c.GC.CacheKeepBytes != c.GC.KeepBytes/4 || len(c.GC.Set) != 0 {
		t.Fatalf("defaults = %+v", c.GC)
	}
	if err := SetConfig(root, map[string]string{"gc.keep_bytes": "5GB", "gc.sources.keep_duration": "30d", "gc.auto": "false"}); err != nil {
		t.Fatal(err)
	}
	if err := SetConfig(root, map[string]string{"gc.cache.keep_bytes": "1GB"}); err != nil {
		t.Fatal(err)
	}
	c, err = LoadConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	g := c.GC
	if g.Auto || g.KeepBytes != 5<<30 || g.SourcesKeepDuration != 30*24*time.Hour || g.CacheKeepBytes != 1<<30 {
		t.Fatalf("after set: %+v", g)
	}
	b, _ := os.ReadFile(filepath.Join(root, ConfigFile))
	want := `# The store's configuration: see docs/store.md. Set values with
# kiln store config KEY=VALUE.
gc {
  auto       = false
  keep_bytes = "5GB"
  sources {
    keep_duration = "30d"
  }
  cache {
    keep_bytes = "1GB"
  }
}
`
	if string(b) != want {
		t.Errorf("config.hcl =\n%s\nwant\n%s", b, want)
	}
	if err := SetConfig(root, map[string]string{"gc.keep_bytes": "much"}); err == nil || !strings.Contains(err.Error(), "gc.keep_bytes") {
		t.Errorf("bad value: %v", err)
	}
	if err := SetConfig(root, map[string]string{"gc.nope": "1"}); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("unknown key: %v", err)
	}
	// An empty value is the default again.
	if err := SetConfig(root, map[string]string{"gc.auto": ""}); err != nil {
		t.Fatal(err)
	}
	if c, _ := LoadConfig(root); !c.GC.Auto || c.GC.Set["gc.auto"] {
		t.Errorf("after unsetting gc.auto: %+v", c.GC)
	}
}

// budget is a policy of n bytes with nothing kept by time.
func budget(n int64) GCConfig {
	return GCConfig{Auto: true, KeepBytes: n, CacheKeepBytes: n}
}

func TestAutoGCComesUnderBudget(t *testing.T) {
	t.Parallel()
	s, _, layers := gcFixture(t)
	s.AddRoot("target:mid", drv("mid"))
	c := budget(2500)
	p, err := s.CheckBudget(c, true)
	if err != nil {
		t.Fatal(err)
	}
	if p.Reason == "" || p.Objects != 4000 {
		t.Fatalf("CheckBudget = %+v, want over budget with 4000 bytes", p)
	}
	plan, err := s.PlanAuto(c)
	if err != nil || plan.Layers != 2 || plan.Bytes != 2000 {
		t.Fatalf("PlanAuto = %+v, %v; want 2 layers, 2000 bytes", plan, err)
	}
	rep, err := s.AutoGC(c, p, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Layers != 2 || rep.Left != 2000 || rep.Skipped {
		t.Errorf("AutoGC = %+v", rep)
	}
	want := map[string]bool{"old": false, "mid": true, "recent": false, "new": true}
	if got := present(t, s, layers); !mapsEqual(got, want) {
		t.Errorf("after AutoGC: %v, want %v", got, want)
	}
	// The measurement is recorded: a no-op check trusts it.
	if p, err := s.CheckBudget(c, false); err != nil || p.Reason != "" || p.Objects != 2000 {
		t.Errorf("CheckBudget after = %+v, %v", p, err)
	}
	checkConsistent(t, s)
}

func TestAutoGCRemovesSourcesLast(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openT(t, t.TempDir(), withClock(c.Now))
	layers := map[string]digest.Digest{}
	for _, name := range []string{"src", "a", "b", "new"} {
		l := addLayer(t, s, map[string]string{name: strings.Repeat(name[:1], 1000)})
		layers[name] = l
		out := Output{Layers: []digest.Digest{l}}
		if name == "src" {
			out.Meta = map[string]string{MetaClass: ClassSource}
		}
		if err := s.Record(drv(name), out); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Hour)
	}
	p, _ := s.CheckBudget(budget(2000), true)
	if _, err := s.AutoGC(budget(2000), p, false); err != nil {
		t.Fatal(err)
	}
	// The source is the least recently used, yet the two exec results
	// went first.
	want := map[string]bool{"src": true, "a": false, "b": false, "new": true}
	if got := present(t, s, layers); !mapsEqual(got, want) {
		t.Errorf("after AutoGC: %v, want %v", got, want)
	}
	// A source used within sources.keep_duration stays even when the
	// budget needs its room.
	cfg := budget(1)
	cfg.SourcesKeepDuration = 5 * time.Hour
	p, _ = s.CheckBudget(cfg, true)
	if _, err := s.AutoGC(cfg, p, false); err != nil {
		t.Fatal(err)
	}
	want = map[string]bool{"src": true, "a": false, "b": false, "new": false}
	if got := present(t, s, layers); !mapsEqual(got, want) {
		t.Errorf("after AutoGC under sources.keep_duration: %v, want %v", got, want)
	}
}

func TestCachesPrunedLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openT(t, t.TempDir(), withClock(c.Now))
	var held func()
	dirs := map[string]string{}
	for _, id := range []string{"go-build", "npm", "held", "apt"} {
		dir, release, err := s.UseCache(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data"), []byte(strings.Repeat("c", 1000)), 0o644); err != nil {
			t.Fatal(err)
		}
		if id == "held" {
			held = release
		} else {
			release()
		}
		dirs[id] = dir
		c.Advance(time.Hour)
	}
	cfg := budget(1 << 20)
	cfg.CacheKeepBytes = 1500
	p, err := s.CheckBudget(cfg, true)
	if err != nil || p.Caches != 4000 || p.Reason == "" {
		t.Fatalf("CheckBudget = %+v, %v", p, err)
	}
	rep, err := s.AutoGC(cfg, p, false)
	if err != nil {
		t.Fatal(err)
	}
	// Least recently used first, the held one skipped: go-build, npm and
	// apt go, leaving the held cache alone at 1000 bytes.
	gone := map[string]bool{}
	for id, dir := range dirs {
		_, err := os.Stat(dir)
		gone[id] = err != nil
	}
	want := map[string]bool{"go-build": true, "npm": true, "held": false, "apt": true}
	if !mapsEqual(gone, want) || rep.Caches != 3 || rep.CacheBytes != 3000 {
		t.Errorf("removed %v (report %+v), want %v", gone, rep, want)
	}
	held()
	checkConsistent(t, s)
}
