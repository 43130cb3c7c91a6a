package compiler

import (
	"reflect"
	"testing"

	"github.com/kiln-build/kiln/lang"
)

// exportConfig is baseConfig with every export setting set, on the image
// and on an artifact of the same stage.
func exportConfig() *lang.Config {
	cfg := baseConfig()
	level := 5
	img := cfg.Images[0]
	img.Entrypoint, img.Cmd = []string{"/app/run"}, []string{}
	img.Env = map[string]string{"A": "1"}
	img.Workdir, img.User, img.StopSignal, img.Squash = "/app", "1000", "SIGINT", true
	img.Labels, img.Annotations = map[string]string{"l": "1"}, map[string]string{"a": "1"}
	img.Expose, img.Volumes = []string{"80"}, []string{"/data"}
	img.Compression, img.CompressionLevel = "zstd", &level
	img.Outputs = []string{"type=oci,dest=out"}
	img.Tags = []string{"example.com/app:1"}
	cfg.Artifacts = []*lang.Artifact{{Name: "bin", From: lang.Ref{Kind: "stage", Name: "runtime"}, Paths: []string{"/app"}, Outputs: []string{"type=local,dest=bin"}}}
	return cfg
}

func TestExportSettingsAreLowered(t *testing.T) {
	g, diags := Compile(exportConfig(), []string{"app", "bin"}, Options{Pins: basePins()})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := &Export{
		Outputs: []string{"type=oci,dest=out"},
		Image: &ImageConfig{
			Entrypoint: []string{"/app/run"}, Cmd: []string{}, Env: map[string]string{"A": "1"},
			Workdir: "/app", User: "1000", Labels: map[string]string{"l": "1"}, Annotations: map[string]string{"a": "1"},
			Expose: []string{"80"}, Volumes: []string{"/data"}, StopSignal: "SIGINT", Squash: true,
			Tags: []string{"example.com/app:1"}, Compression: "zstd", CompressionLevel: 5,
		},
	}
	if got := g.Targets[0].Export; !reflect.DeepEqual(got, want) {
		t.Errorf("image export:\n got %+v\nwant %+v", got, want)
	}
	if got := g.Targets[0].Export.Image.Cmd; got == nil {
		t.Error("an empty cmd (clear the base's) must not become nil (keep the base's)")
	}
	wantArt := &Export{Outputs: []string{"type=local,dest=bin"}, Paths: []string{"/app"}}
	if got := g.Targets[1].Export; !reflect.DeepEqual(got, wantArt) {
		t.Errorf("artifact export:\n got %+v\nwant %+v", got, wantArt)
	}
}

// TestExportSettingsDoNotChangeTheDigest: an export setting changes an
// output, never a state.
func TestExportSettingsDoNotChangeTheDigest(t *testing.T) {
	base, _ := compileDigests(t, baseConfig(), basePins())
	if got, _ := compileDigests(t, exportConfig(), basePins()); got != base {
		t.Fatalf("digest changed: %s -> %s", base, got)
	}
}

func TestStagesHaveNoExport(t *testing.T) {
	g, diags := Compile(baseConfig(), []string{"stage.runtime"}, Options{Pins: basePins()})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if e := g.Targets[0].Export; e != nil {
		t.Errorf("stage target has export settings %+v", e)
	}
}
