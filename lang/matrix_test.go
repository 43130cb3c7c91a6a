package lang

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMatrixExpands checks the instances matrix and for_each make: their
// names, the values each sees, their order, and the group an image's
// label becomes.
func TestMatrixExpands(t *testing.T) {
	cfg, _ := mustLoad(t, Options{Vars: map[string]string{"arches": `["amd64","arm64"]`}}, map[string]string{"build.hcl": `
variable "arches" {
  type = list(string)
}
stage "build" {
  for_each = toset(var.arches)
  from     = "scratch"
  env      = { ARCH = each.value }
}
stage "x" {
  matrix = { os = ["linux", "darwin"], arch = var.arches }
  from   = stage.build[arch]
  env    = { T = "${os}/${arch}" }
}
image "app" {
  for_each = { a = "linux/amd64" }
  name     = "app-${each.key}"
  from     = stage.x-amd64-linux
  platforms = [each.value]
}
`})
	var got []string
	for _, s := range cfg.Stages {
		got = append(got, s.Name+" "+s.From.Address()+" "+s.Env["ARCH"]+s.Env["T"])
	}
	want := []string{
		"build-amd64 scratch amd64",
		"build-arm64 scratch arm64",
		// The first key in sorted order (arch) varies slowest; values
		// keep their list's order.
		"x-amd64-linux stage.build-amd64 linux/amd64",
		"x-amd64-darwin stage.build-amd64 darwin/amd64",
		"x-arm64-linux stage.build-arm64 linux/arm64",
		"x-arm64-darwin stage.build-arm64 darwin/arm64",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("stages (-want +got):\n%s", d)
	}
	if len(cfg.Images) != 1 || cfg.Images[0].Name != "app-a" || cfg.Images[0].From.Address() != "stage.x-amd64-linux" {
		t.Fatalf("images: %+v", cfg.Images)
	}
}

func TestMatrixImageGroup(t *testing.T) {
	cfg, _ := mustLoad(t, Options{}, map[string]string{"build.hcl": `
image "app" {
  for_each  = { a = "linux/amd64", b = "linux/arm64" }
  name      = "app-${each.key}"
  platforms = [each.value]
}
`})
	var got []string
	for _, i := range cfg.Images {
		got = append(got, i.Name+" "+strings.Join(i.Platforms, ","))
	}
	if d := cmp.Diff([]string{"app-a linux/amd64", "app-b linux/arm64"}, got); d != "" {
		t.Fatalf("images (-want +got):\n%s", d)
	}
	if len(cfg.Groups) != 1 || cfg.Groups[0].Name != "app" || strings.Join(cfg.Groups[0].Targets, ",") != "app-a,app-b" {
		t.Fatalf("groups: %+v", cfg.Groups)
	}
}
