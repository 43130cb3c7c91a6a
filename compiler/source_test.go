package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/lang"
)

// compileSource loads src as build.hcl in a new folder and returns the
// digest of image.app.
func compileSource(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "build.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := lang.NewLoader(lang.Options{}).Load(filepath.Join(dir, "build.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	hash := func(string, []string, []string) (string, error) { return "sha256:" + zeros, nil }
	g, diags := Compile(cfg, []string{"app"}, Options{LocalHash: hash})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return string(g.Targets[0].States["linux/amd64"])
}

// TestSpellingDoesNotChangeDigests: formatting, comments, the order of
// attributes and blocks, and JSON instead of native syntax are spelling;
// the digests must not see them.
func TestSpellingDoesNotChangeDigests(t *testing.T) {
	base := compileSource(t, `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}
source "local" "src" {
  path = "src"
}
stage "build" {
  from = source.local.src
  env  = { A = "1", B = "2" }
  run {
    shell = "make"
    env   = { C = "3" }
  }
}
image "app" {
  from = stage.build
}
`)
	variants := map[string]string{
		"formatting and comments": `
# the project
kiln {
    source_date_epoch=1700000000    // trailing comment
  platform =    "linux/amd64"
}
source "local" "src" { path = "./src/" }
/* a stage */ stage "build" {
  from = source.local.src


  env = {
    B = "2"
    A = "1"
  }
  run {
        shell = "make"   # why not
        env = { C = "3" }
  }
}
image "app" { from = stage.build }
`,
		"attribute and block order": `
image "app" {
  from = stage.build
}
stage "build" {
  run {
    env   = { C = "3" }
    shell = "make"
  }
  env  = { B = "2", A = "1" }
  from = source.local.src
}
source "local" "src" {
  path = "src"
}
kiln {
  platform          = "linux/amd64"
  source_date_epoch = 1700000000
}
`,
		"expressions that evaluate to the same values": `
locals {
  epoch = 1699999999 + 1
  arch  = "amd64"
}
kiln {
  source_date_epoch = local.epoch
  platform          = "linux/${local.arch}"
}
source "local" "src" {
  path = lower("SRC")
}
stage "build" {
  from = source.local.src
  env  = merge({ A = "1" }, { B = "2" })
  run {
    shell = join(" ", ["make"])
    env   = { C = tostring(3) }
  }
}
image "app" {
  from = stage.build
}
`,
	}
	for name, src := range variants {
		t.Run(name, func(t *testing.T) {
			if got := compileSource(t, src); got != base {
				t.Fatalf("digest changed: %s -> %s", base, got)
			}
		})
	}
}
