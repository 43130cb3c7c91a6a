package lockfile

import (
	"slices"
	"testing"

	"github.com/kiln-build/kiln/lang"
)

func TestStepChanges(t *testing.T) {
	t.Parallel()
	stage := &lang.Stage{Env: map[string]string{"A": "1", "GONE": "x"}, Workdir: "/src"}
	step := &lang.Step{Shell: "make\nmake install", Network: "host"}
	tests := []struct {
		name  string
		stage lang.Stage
		step  lang.Step
		want  []string
	}{
		{"same", *stage, *step, nil},
		{"shell", *stage, lang.Step{Shell: "make all", Network: "host"},
			[]string{`shell: "make\nmake install" -> "make all"`}},
		{"command", *stage, lang.Step{Args: []string{"go", "mod", "download"}, Network: "host"},
			[]string{`command: [] -> ["go", "mod", "download"]`, `shell: "make\nmake install" -> ""`}},
		{"stage defaults", lang.Stage{Env: map[string]string{"A": "2", "NEW": "y"}, Workdir: "/app"}, *step,
			[]string{`workdir: "/src" -> "/app"`, `env A: "1" -> "2"`, `env GONE: removed (was "x")`, `env NEW: added "y"`}},
		{"mounts", *stage, lang.Step{Shell: step.Shell, Network: "host", Mounts: []*lang.Mount{{Type: "cache", Target: "/root/.cache", ID: "go", Sharing: "locked"}}},
			[]string{`mounts: [] -> ["cache /root/.cache id=go sharing=locked"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := StepChanges(StepRequest(stage, step), StepRequest(&tt.stage, &tt.step))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("StepChanges =\n%q\nwant\n%q", got, tt.want)
			}
			if (len(tt.want) == 0) != (StepDigest(stage, step) == StepDigest(&tt.stage, &tt.step)) {
				t.Errorf("StepChanges and StepDigest disagree on whether the step changed")
			}
		})
	}
}
