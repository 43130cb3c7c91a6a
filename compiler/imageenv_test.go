package compiler

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/lang"
)

// TestImageEnvOnlyOnImageStages: a run step gets ImageEnv (and leaves PATH
// and HOME to the realizer) exactly when its stage's chain of from starts
// at an image or oci-layout source.
func TestImageEnvOnlyOnImageStages(t *testing.T) {
	dir := t.TempDir()
	src := `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}
source "image" "base" {
  ref = "127.0.0.1:5000/busybox:1"
}
source "oci-layout" "layout" {
  path = "base"
}
source "local" "root" {
  path = "rootfs"
}
stage "img" {
  from = source.image.base
  run { shell = "img" }
}
stage "onimg" {
  from = stage.img
  run { shell = "onimg" }
}
stage "layout" {
  from = source.oci-layout.layout
  env  = { HOME = "/home/me" }
  run { shell = "layout" }
}
stage "local" {
  from = source.local.root
  run { shell = "local" }
}
stage "onlocal" {
  from = stage.local
  run { shell = "onlocal" }
}
stage "scratch" {
  run {
    command = ["/bin/x"]
    env     = { PATH = "/x" }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "build.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := lang.NewLoader(lang.Options{}).Load(filepath.Join(dir, "build.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	hash := func(string, []string, []string) (string, error) { return "sha256:" + zeros, nil }
	pins := fakePins{"source.image.base": "sha256:" + zeros, "source.oci-layout.layout": "sha256:" + zeros}
	names := []string{"stage.img", "stage.onimg", "stage.layout", "stage.local", "stage.onlocal", "stage.scratch"}
	g, diags := Compile(cfg, names, Options{LocalHash: hash, Pins: pins})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := map[string]struct {
		image      bool
		path, home string
	}{
		"img":     {image: true},
		"onimg":   {image: true},
		"layout":  {image: true, home: "/home/me"},
		"local":   {path: DefaultPath, home: DefaultHome},
		"onlocal": {path: DefaultPath, home: DefaultHome},
		"scratch": {path: "/x", home: DefaultHome},
	}
	seen := 0
	for _, d := range g.Nodes {
		if d.Kind != KindExec {
			continue
		}
		stage := strings.TrimPrefix(strings.SplitN(d.Name, "/", 2)[0], "stage.")
		w, ok := want[stage]
		if !ok {
			t.Fatalf("unexpected exec %s", d.Name)
		}
		seen++
		ex := d.Exec
		if ex.ImageEnv != w.image {
			t.Errorf("%s: ImageEnv = %v, want %v", d.Name, ex.ImageEnv, w.image)
		}
		get := func(k string) string {
			i := slices.IndexFunc(ex.Env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
			if i < 0 {
				return ""
			}
			return strings.TrimPrefix(ex.Env[i], k+"=")
		}
		if got := get("PATH"); got != w.path {
			t.Errorf("%s: PATH = %q, want %q", d.Name, got, w.path)
		}
		if got := get("HOME"); got != w.home {
			t.Errorf("%s: HOME = %q, want %q", d.Name, got, w.home)
		}
		// kiln's own variables stay in the hashed env on every stage.
		if get("TZ") != "UTC" || get("SOURCE_DATE_EPOCH") != "1700000000" || get("LANG") != "C.UTF-8" {
			t.Errorf("%s: kiln's fixed env missing: %q", d.Name, ex.Env)
		}
	}
	if seen != len(want) {
		t.Errorf("saw %d run steps, want %d", seen, len(want))
	}
}
