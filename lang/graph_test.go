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
		want := refStageCycles(cfg)
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
// 20, on a graph keyed by stage name.
func refStageCycles(cfg *Config) hcl.Diagnostics {
	type edge struct {
		to  int
		via string
		rng hcl.Range
	}
	var nodes []string
	index := map[string]int{}
	var edges [][]edge
	add := func(n string) int {
		if i, ok := index[n]; ok {
			return i
		}
		index[n] = len(nodes)
		nodes = append(nodes, n)
		edges = append(edges, nil)
		return len(nodes) - 1
	}
	for _, st := range cfg.Stages {
		add(st.Name)
	}
	link := func(st *Stage, r Ref, via string) {
		if r.Kind == "stage" {
			f, t := add(st.Name), add(r.Name)
			edges[f] = append(edges[f], edge{t, via, r.Range})
		}
	}
	for _, st := range cfg.Stages {
		link(st, st.From, "from")
		for _, s := range st.Steps {
			link(st, s.From, "copy from")
			for _, m := range s.Mounts {
				link(st, m.From, "mount from")
			}
		}
	}
	type cyc struct {
		nodes []int
		steps []edge
	}
	var cs []cyc
	state := make([]byte, len(nodes))
	type frame struct{ n, next int }
	for root := range nodes {
		if state[root] != 0 {
			continue
		}
		stack := []frame{{root, 0}}
		state[root] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < len(edges[top.n]) {
				ed := edges[top.n][top.next]
				top.next++
				switch state[ed.to] {
				case 0:
					state[ed.to] = 1
					stack = append(stack, frame{ed.to, 0})
				case 1:
					start := len(stack) - 1
					for stack[start].n != ed.to {
						start--
					}
					var c cyc
					for i := start; i < len(stack); i++ {
						n := stack[i].n
						c.nodes = append(c.nodes, n)
						if i+1 < len(stack) {
							c.steps = append(c.steps, edges[n][stack[i].next-1])
						}
					}
					c.steps = append(c.steps, ed)
					cs = append(cs, c)
				}
				continue
			}
			state[top.n] = 2
			stack = stack[:len(stack)-1]
		}
	}
	var diags hcl.Diagnostics
	for _, c := range cs {
		var b strings.Builder
		for i, st := range c.steps {
			via := "refers to"
			if st.via != "" {
				via = "uses (" + st.via + ")"
			}
			fmt.Fprintf(&b, "\n  stage.%s %s stage.%s at %s", nodes[c.nodes[i]], via, nodes[st.to], st.rng)
		}
		for i, st := range c.steps {
			rng := st.rng
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Cycle between stages", Subject: &rng,
				Detail: fmt.Sprintf("stage.%s depends on itself, through %d step(s):%s\nRemove one of these references to break the cycle.", nodes[c.nodes[i]], len(c.steps), b.String()),
			})
		}
	}
	return diags
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
