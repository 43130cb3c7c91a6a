package compiler

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/lang"
)

// loadFile loads src as a build file, so that the config can be evaluated
// again for each target platform, as kiln does.
func loadFile(t *testing.T, src string) *lang.Config {
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

const crossBuild = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}
stage "cross" {
  platform = build_platform
  env      = { WANT = target_arch }
  run {
    command = ["true"]
  }
}
stage "native" {
  env = { WANT = target_arch }
  run {
    command = ["true"]
  }
}
image "cross" {
  from      = stage.cross
  platforms = ["linux/arm64/v8", "linux/amd64"]
}
image "native" {
  from      = stage.native
  platforms = ["linux/amd64", "linux/arm64"]
}
`

// TestStagesPerTargetPlatform: each target platform is compiled from the
// build file evaluated for it (target_arch), a stage on build_platform runs
// there with BuildKit's TARGET* variables for the target, and a stage that
// names no platform runs on its target without them (so existing digests
// stay as they were).
func TestStagesPerTargetPlatform(t *testing.T) {
	cfg := loadFile(t, crossBuild)
	g, diags := Compile(cfg, []string{"image.cross", "image.native"}, Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	build := lang.BuildPlatform()
	for _, tg := range g.Targets {
		for _, p := range tg.Platforms {
			d := g.Nodes[tg.States[p]]
			if d == nil || d.Exec == nil {
				t.Fatalf("%s %s: the state is not the run step", tg.Address, p)
			}
			env := strings.Join(d.Exec.Env, " ")
			arch := strings.Split(p, "/")[1]
			if !slices.Contains(d.Exec.Env, "WANT="+arch) {
				t.Errorf("%s %s: env %s lacks WANT=%s (target_arch)", tg.Address, p, env, arch)
			}
			switch tg.Name {
			case "cross":
				if d.Platform != build {
					t.Errorf("%s %s: runs on %s, want the build platform %s", tg.Address, p, d.Platform, build)
				}
				for _, kv := range []string{"TARGETPLATFORM=linux/" + arch, "TARGETARCH=" + arch, "TARGETOS=linux", "TARGETVARIANT=", "BUILDPLATFORM=" + build} {
					if !slices.Contains(d.Exec.Env, kv) {
						t.Errorf("%s %s: env %s lacks %s", tg.Address, p, env, kv)
					}
				}
			case "native":
				if d.Platform != p {
					t.Errorf("%s %s: runs on %s", tg.Address, p, d.Platform)
				}
				if strings.Contains(env, "TARGET") || strings.Contains(env, "BUILDPLATFORM") {
					t.Errorf("%s %s: a stage naming no platform got platform variables: %s", tg.Address, p, env)
				}
			}
		}
		if tg.States[tg.Platforms[0]] == tg.States[tg.Platforms[1]] {
			t.Errorf("%s: both platforms compile to one state", tg.Address)
		}
	}
}

// TestPlatformsOption: --platform replaces the declared platforms, and
// one platform spelled twice is refused.
func TestPlatformsOption(t *testing.T) {
	cfg := loadFile(t, crossBuild)
	g, diags := Compile(cfg, []string{"image.native"}, Options{Platforms: []string{"linux/riscv64"}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := g.Targets[0].Platforms; !slices.Equal(got, []string{"linux/riscv64"}) {
		t.Fatalf("platforms %v, want [linux/riscv64]", got)
	}
	_, diags = Compile(cfg, []string{"image.native"}, Options{Platforms: []string{"linux/arm64", "linux/aarch64"}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "lists platform linux/arm64") {
		t.Fatalf("two spellings of one platform: %v", diags)
	}
}
