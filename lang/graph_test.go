package lang

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestStageCyclesMatchStringGraph checks checkStageCycles, which walks
// stages by number, against the string-keyed graph it replaced, on random
// stage graphs: the same cycles, reported in the same order and words.
func TestStageCyclesMatchStringGraph(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir, cyclic := t.TempDir(), 0
	for round := range 1000 {
		cfg := randomStages(rng)
		e := newEvaluator(NewLoader(Options{}), "build.hcl", dir)
		e.checkStageCycles(cfg)
		want := refStageCycles(cfg, dir)
		if got := diagText(e.diags); got != diagText(want) {
			t.Fatalf("round %d: got\n%s\nwant\n%s", round, got, diagText(want))
		}
		if len(want) > 0 {
			cyclic++
		}
	}
	if cyclic < 100 {
		t.Fatalf("only %d of the random graphs have a cycle", cyclic)
	}
}

func diagText(ds hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s: %s; %s\n", d.Subject, d.Summary, d.Detail)
	}
	return b.String()
}

// randomStages makes up to 8 stages referring to each other, to sources,
// to stages that do not exist and to nothing, through from, copy from and
// mount from, each reference with a range of its own.
func randomStages(rng *rand.Rand) *Config {
	n := 1 + rng.IntN(8)
	line := 0
	ref := func() Ref {
		line++
		r := Ref{Range: hcl.Range{Filename: "build.hcl", Start: hcl.Pos{Line: line, Column: 1}, End: hcl.Pos{Line: line, Column: 9}}}
		switch k := rng.IntN(10); {
		case k < 6:
			r.Kind, r.Name = "stage", fmt.Sprintf("s%d", rng.IntN(n))
		case k < 7:
			r.Kind, r.Name = "stage", "missing"
		case k < 8:
			r.Kind, r.Type, r.Name = "source", "image", "base"
		}
		return r
	}
	cfg := &Config{}
	for i := range n {
		st := &Stage{Name: fmt.Sprintf("s%d", i), From: ref()}
		for range rng.IntN(4) {
			s := &Step{Kind: "copy", From: ref()}
			for range rng.IntN(3) {
				s.Mounts = append(s.Mounts, &Mount{Type: "input", From: ref()})
			}
			st.Steps = append(st.Steps, s)
		}
		cfg.Stages = append(cfg.Stages, st)
	}
	return cfg
}

// refStageCycles is checkStageCycles as it was before round 6 of issue
// 20: the stages in the string-keyed graph that locals and groups still
// use.
func refStageCycles(cfg *Config, dir string) hcl.Diagnostics {
	e := newEvaluator(NewLoader(Options{}), "build.hcl", dir)
	g := newGraph()
	for _, st := range cfg.Stages {
		g.addNode(st.Name)
	}
	edge := func(st *Stage, r Ref, via string) {
		if r.Kind == "stage" {
			g.addEdge(st.Name, r.Name, via, r.Range)
		}
	}
	for _, st := range cfg.Stages {
		edge(st, st.From, "from")
		for _, s := range st.Steps {
			edge(st, s.From, "copy from")
			for _, m := range s.Mounts {
				edge(st, m.From, "mount from")
			}
		}
	}
	e.reportCycles(g, "stages", func(n string) string { return "stage." + n })
	return e.diags
}

// TestStageTargets checks that a stage is a target by its address only.
func TestStageTargets(t *testing.T) {
	_, diags, _, _ := loadSrc(t, Options{}, map[string]string{"build.hcl": `stage "a" {
  from = "scratch"
}
image "app" {
  from = stage.a
}
group "g" {
  targets = ["stage.a", "stage.b", "a", "image.app", "stage.app"]
}`})
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d,%d-%d: %s; %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Subject.End.Column, d.Summary, d.Detail))
	}
	want := []string{
		`8,25-34: Unknown target; There is no target "stage.b". Targets are images, artifacts and groups (app, g), or stage.NAME; fix the name or declare it.`,
		`8,36-39: Unknown target; There is no target "a". Targets are images, artifacts and groups (app, g), or stage.NAME; fix the name or declare it.`,
		`8,54-65: Unknown target; There is no target "stage.app". Targets are images, artifacts and groups (app, g), or stage.NAME; fix the name or declare it.`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
