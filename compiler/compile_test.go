package compiler

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/lang"
)

type fakePins map[string]string

func (p fakePins) Pin(src *lang.Source, platform string) (string, bool) {
	v, ok := p[src.Address()+"@"+platform]
	if !ok {
		v, ok = p[src.Address()]
	}
	return v, ok
}

func (p fakePins) FixedOutputFor(_ *lang.Stage, _ *lang.Step, addr string) (string, bool) {
	v, ok := p[addr]
	return v, ok
}

func int64p(v int64) *int64 { return &v }

// baseConfig is a two-stage build touching every derivation kind's fields.
func baseConfig() *lang.Config {
	return &lang.Config{
		Dir: "/nonexistent", Filename: "build.hcl",
		Project: lang.Project{SourceDateEpoch: int64p(1700000000), Platform: "linux/amd64"},
		Sources: []*lang.Source{
			{Type: "image", Name: "base", Ref: "127.0.0.1:5000/busybox:1"},
			{Type: "http", Name: "tarball", URL: "http://127.0.0.1/x.tar.gz"},
			{Type: "git", Name: "repo", URL: "file:///srv/repo", GitRef: "main"},
		},
		Stages: []*lang.Stage{
			{
				Name: "build",
				From: lang.Ref{Kind: "source", Type: "image", Name: "base"},
				Env:  map[string]string{"CC": "cc"},
				Steps: []*lang.Step{
					{Kind: "copy", From: lang.Ref{Kind: "source", Type: "git", Name: "repo"}, Src: []string{"/"}, Dest: "/src"},
					{Kind: "run", Shell: "make", Workdir: "/src", Mounts: []*lang.Mount{
						{Type: "cache", Target: "/root/.cache", ID: "c"},
						{Type: "input", Target: "/dl", From: lang.Ref{Kind: "source", Type: "http", Name: "tarball"}},
						{Type: "tmpfs", Target: "/tmp", SizeBytes: 1 << 20},
						{Type: "secret", ID: "tok", Target: "/run/tok"},
					}},
					{Kind: "mkdir", Path: "/out", Mode: "0755"},
					{Kind: "file", Path: "/out/VERSION", Content: "1.0\n"},
					{Kind: "symlink", Path: "/out/latest", Target: "VERSION"},
					{Kind: "remove", Path: "/src/tmp"},
				},
			},
			{
				Name: "runtime",
				From: lang.Ref{Kind: "source", Type: "image", Name: "base"},
				Steps: []*lang.Step{
					{Kind: "copy", From: lang.Ref{Kind: "stage", Name: "build"}, Src: []string{"/out"}, Dest: "/app", Chown: "1000:1000", Chmod: "0755"},
				},
			},
		},
		Images: []*lang.Image{{Name: "app", From: lang.Ref{Kind: "stage", Name: "runtime"}}},
	}
}

func basePins() fakePins {
	return fakePins{
		"source.image.base":   "sha256:" + fmt.Sprintf("%064x", 1),
		"source.http.tarball": "sha256:" + fmt.Sprintf("%064x", 2),
		"source.git.repo":     fmt.Sprintf("%040x", 3),
	}
}

func compileDigests(t *testing.T, cfg *lang.Config, pins fakePins) (digest.Digest, map[digest.Digest]*Derivation) {
	t.Helper()
	g, diags := Compile(cfg, []string{"app"}, Options{Pins: pins})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return g.Targets[0].States["linux/amd64"], g.Nodes
}

// TestEveryInputChangesTheDigest mutates one field at a time and asserts
// that the target's state digest moves.
func TestEveryInputChangesTheDigest(t *testing.T) {
	base, _ := compileDigests(t, baseConfig(), basePins())
	build := func(c *lang.Config) *lang.Stage { return c.Stages[0] }
	runStep := func(c *lang.Config) *lang.Step { return c.Stages[0].Steps[1] }
	cases := map[string]struct {
		cfg  func(*lang.Config)
		pins func(fakePins)
	}{
		"epoch":         {cfg: func(c *lang.Config) { c.Project.SourceDateEpoch = int64p(1) }},
		"platform":      {cfg: func(c *lang.Config) { c.Project.Platform = "linux/arm64" }},
		"image pin":     {pins: func(p fakePins) { p["source.image.base"] = "sha256:" + fmt.Sprintf("%064x", 9) }},
		"http pin":      {pins: func(p fakePins) { p["source.http.tarball"] = "sha256:" + fmt.Sprintf("%064x", 9) }},
		"git pin":       {pins: func(p fakePins) { p["source.git.repo"] = fmt.Sprintf("%040x", 9) }},
		"http filename": {cfg: func(c *lang.Config) { c.Sources[1].Filename = "y.tgz" }},
		"http mode":     {cfg: func(c *lang.Config) { c.Sources[1].Mode = 0o755 }},
		"git keep dir":  {cfg: func(c *lang.Config) { c.Sources[2].KeepGitDir = true }},
		"image ref":     {cfg: func(c *lang.Config) { c.Sources[0].Ref = "127.0.0.1:5000/busybox:2" }},
		"stage env":     {cfg: func(c *lang.Config) { build(c).Env["CC"] = "gcc" }},
		"stage user":    {cfg: func(c *lang.Config) { build(c).User = "1000" }},
		// The run step's workdir is absolute and replaces the stage's, so
		// the stage's shows through a relative path.
		"stage workdir": {cfg: func(c *lang.Config) { build(c).Workdir = "/w"; build(c).Steps[5].Path = "src/tmp" }},
		"stage shell":   {cfg: func(c *lang.Config) { build(c).Shell = []string{"/bin/bash", "-c"} }},
		"run shell":     {cfg: func(c *lang.Config) { runStep(c).Shell = "make all" }},
		"run args":      {cfg: func(c *lang.Config) { runStep(c).Shell = ""; runStep(c).Args = []string{"make"} }},
		"run env":       {cfg: func(c *lang.Config) { runStep(c).Env = map[string]string{"X": "1"} }},
		"run workdir":   {cfg: func(c *lang.Config) { runStep(c).Workdir = "/elsewhere" }},
		"run user":      {cfg: func(c *lang.Config) { runStep(c).User = "nobody" }},
		"cache id":      {cfg: func(c *lang.Config) { runStep(c).Mounts[0].ID = "other" }},
		"cache target":  {cfg: func(c *lang.Config) { runStep(c).Mounts[0].Target = "/cache" }},
		"cache sharing": {cfg: func(c *lang.Config) { runStep(c).Mounts[0].Sharing = "locked" }},
		"cache mode":    {cfg: func(c *lang.Config) { runStep(c).Mounts[0].Mode = "0777" }},
		"ssh mount": {cfg: func(c *lang.Config) {
			runStep(c).Mounts = append(runStep(c).Mounts, &lang.Mount{Type: "ssh", ID: "default"})
		}},
		"input mount rw":  {cfg: func(c *lang.Config) { runStep(c).Mounts[1].ReadWrite = true }},
		"input selector":  {cfg: func(c *lang.Config) { runStep(c).Mounts[1].Source = "/sub" }},
		"input from":      {cfg: func(c *lang.Config) { runStep(c).Mounts[1].From = lang.Ref{Kind: "source", Type: "git", Name: "repo"} }},
		"tmpfs size":      {cfg: func(c *lang.Config) { runStep(c).Mounts[2].SizeBytes = 2 << 20 }},
		"secret id":       {cfg: func(c *lang.Config) { runStep(c).Mounts[3].ID = "other" }},
		"secret target":   {cfg: func(c *lang.Config) { runStep(c).Mounts[3].Target = "/run/other" }},
		"copy src":        {cfg: func(c *lang.Config) { build(c).Steps[0].Src = []string{"/sub"} }},
		"copy dest":       {cfg: func(c *lang.Config) { build(c).Steps[0].Dest = "/source" }},
		"copy chown":      {cfg: func(c *lang.Config) { c.Stages[1].Steps[0].Chown = "0:0" }},
		"copy chown name": {cfg: func(c *lang.Config) { c.Stages[1].Steps[0].Chown = "app:1000" }},
		"copy chmod":      {cfg: func(c *lang.Config) { c.Stages[1].Steps[0].Chmod = "0700" }},
		"copy from":       {cfg: func(c *lang.Config) { c.Stages[1].Steps[0].From = lang.Ref{Kind: "source", Type: "git", Name: "repo"} }},
		"mkdir mode":      {cfg: func(c *lang.Config) { build(c).Steps[2].Mode = "0700" }},
		"mkdir path":      {cfg: func(c *lang.Config) { build(c).Steps[2].Path = "/o" }},
		"file content":    {cfg: func(c *lang.Config) { build(c).Steps[3].Content = "1.1\n" }},
		"file mode":       {cfg: func(c *lang.Config) { build(c).Steps[3].Mode = "0600" }},
		"symlink target":  {cfg: func(c *lang.Config) { build(c).Steps[4].Target = "/VERSION" }},
		"remove path":     {cfg: func(c *lang.Config) { build(c).Steps[5].Path = "/src/other" }},
		"step order":      {cfg: func(c *lang.Config) { s := build(c).Steps; s[2], s[3] = s[3], s[2] }},
		"extra step":      {cfg: func(c *lang.Config) { build(c).Steps = append(build(c).Steps, &lang.Step{Kind: "mkdir", Path: "/x"}) }},
		"env step": {cfg: func(c *lang.Config) {
			build(c).Steps = append([]*lang.Step{{Kind: "env", Env: map[string]string{"A": "b"}}}, build(c).Steps...)
		}},
		"runtime base":  {cfg: func(c *lang.Config) { c.Stages[1].From = lang.Ref{} }},
		"network fixed": {cfg: func(c *lang.Config) { runStep(c).FixedOutput = true; runStep(c).Network = "host" }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, pins := baseConfig(), basePins()
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			if tc.pins != nil {
				tc.pins(pins)
			}
			got, _ := compileDigests(t, cfg, pins)
			if got == base {
				t.Fatalf("digest did not change: %s", got)
			}
		})
	}
}

// TestWhatMustNotChangeTheDigest covers inputs that cannot change the
// result: the folder the build lives in, limits, the order of mounts and map
// iteration.
func TestWhatMustNotChangeTheDigest(t *testing.T) {
	base, _ := compileDigests(t, baseConfig(), basePins())
	cases := map[string]func(*lang.Config){
		"folder":      func(c *lang.Config) { c.Dir = "/somewhere/else" },
		"limits":      func(c *lang.Config) { c.Stages[0].Limits = lang.Limits{MemoryBytes: 1 << 30, Pids: 10, TimeoutSec: 5} },
		"mount order": func(c *lang.Config) { m := c.Stages[0].Steps[1].Mounts; m[0], m[3] = m[3], m[0] },
		"git ref name": func(c *lang.Config) {
			// The commit pins the content; the branch asked for is the lock's business.
			c.Sources[2].GitRef = "release"
		},
		"unused stage": func(c *lang.Config) { c.Stages = append(c.Stages, &lang.Stage{Name: "other"}) },
		"block order":  func(c *lang.Config) { c.Stages[0], c.Stages[1] = c.Stages[1], c.Stages[0] },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig()
			mut(cfg)
			if got, _ := compileDigests(t, cfg, basePins()); got != base {
				t.Fatalf("digest changed: %s -> %s", base, got)
			}
		})
	}
	for i := 0; i < 20; i++ { // map iteration order varies run to run
		if got, _ := compileDigests(t, baseConfig(), basePins()); got != base {
			t.Fatalf("digest is not stable: %s -> %s", base, got)
		}
	}
}

func TestUnresolvedPropagates(t *testing.T) {
	pins := basePins()
	delete(pins, "source.http.tarball")
	g, diags := Compile(baseConfig(), []string{"app"}, Options{Pins: pins})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if !g.Nodes[g.Targets[0].States["linux/amd64"]].Unresolved {
		t.Fatal("a state built on an unpinned source must be unresolved")
	}
	var unresolved []string
	for _, d := range g.Order {
		if g.Nodes[d].Unresolved {
			unresolved = append(unresolved, g.Nodes[d].Name)
		}
	}
	want := []string{"source.http.tarball", "stage.build/run[1]", "stage.build/mkdir[2]", "stage.build/file[3]", "stage.build/symlink[4]", "stage.build/remove[5]", "stage.runtime/copy[0]"}
	if !sameSet(unresolved, want) {
		t.Fatalf("unresolved nodes %v, want %v", unresolved, want)
	}
}

func TestSharedSubgraphsAreDeduplicated(t *testing.T) {
	cfg := baseConfig()
	cfg.Images = append(cfg.Images, &lang.Image{Name: "app2", From: lang.Ref{Kind: "stage", Name: "runtime"}})
	g, diags := Compile(cfg, []string{"app", "app2"}, Options{Pins: basePins()})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	one, _ := Compile(baseConfig(), []string{"app"}, Options{Pins: basePins()})
	if len(g.Nodes) != len(one.Nodes) {
		t.Fatalf("two images of one stage have %d nodes, one has %d", len(g.Nodes), len(one.Nodes))
	}
	// Topological: every input precedes its user.
	pos := map[digest.Digest]int{}
	for i, d := range g.Order {
		pos[d] = i
	}
	for d, n := range g.Nodes {
		for _, in := range n.Inputs {
			if pos[in] >= pos[d] {
				t.Fatalf("%s comes before its input %s", n.Name, g.Nodes[in].Name)
			}
		}
	}
}

func TestTargets(t *testing.T) {
	cfg := baseConfig()
	cfg.Groups = []*lang.Group{{Name: "default", Targets: []string{"app"}}}
	g, diags := Compile(cfg, nil, Options{Pins: basePins()})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := []string{g.Targets[0].Address}; !reflect.DeepEqual(got, []string{"image.app"}) {
		t.Fatalf("default group compiled %v", got)
	}
	for _, bad := range [][]string{{"nope"}, {"image.runtime"}} {
		if _, diags := Compile(cfg, bad, Options{Pins: basePins()}); !diags.HasErrors() {
			t.Fatalf("target %v should be unknown", bad)
		}
	}
	if g, diags := Compile(cfg, []string{"stage.build"}, Options{Pins: basePins()}); diags.HasErrors() || g.Targets[0].Kind != "stage" {
		t.Fatalf("stage targets: %v", diags)
	}
}

func TestNetworkNeedsFixedOutput(t *testing.T) {
	cfg := baseConfig()
	cfg.Stages[0].Steps[1].Network = "host"
	if _, diags := Compile(cfg, []string{"app"}, Options{Pins: basePins()}); !diags.HasErrors() {
		t.Fatal("network = host without fixed_output must be refused")
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestShellQuoteIsOneLine(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"make", "all"}, "make all"},
		{[]string{"/bin/sh", "-c", "echo 'hi' > x"}, `/bin/sh -c 'echo '\''hi'\'' > x'`},
		{[]string{"/bin/sh", "-c", "set -e\necho 'it'\\s\n\tdone"}, `/bin/sh -c $'set -e\necho \'it\'\\s\n\tdone'`},
	} {
		if got := shellQuote(tt.args); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

// TestStageFromStageInherits checks that a stage built from another
// starts with its env, workdir, user and shell (Dockerfile FROM X), that
// its own settings override them, and that a run step's absolute workdir
// replaces the stage's instead of being joined onto it.
func TestStageFromStageInherits(t *testing.T) {
	cfg := baseConfig()
	cfg.Stages = append(cfg.Stages[:1], &lang.Stage{
		Name: "parent", From: lang.Ref{Kind: "source", Type: "image", Name: "base"},
		Env: map[string]string{"A": "1", "B": "1"}, Workdir: "/p", User: "1000", Shell: []string{"/bin/bash", "-c"},
		Steps: []*lang.Step{{Kind: "env", Env: map[string]string{"C": "1"}}, {Kind: "workdir", Workdir: "/p/sub"}},
	}, &lang.Stage{
		Name: "child", From: lang.Ref{Kind: "stage", Name: "parent"}, Env: map[string]string{"B": "2"},
		Steps: []*lang.Step{{Kind: "run", Shell: "true"}, {Kind: "run", Shell: "true", Workdir: "/abs"}},
	}, &lang.Stage{
		Name: "own", From: lang.Ref{Kind: "stage", Name: "parent"}, Workdir: "/o", User: "2000", Shell: []string{"/bin/ash", "-c"},
		Steps: []*lang.Step{{Kind: "run", Shell: "true"}},
	})
	g, diags := Compile(cfg, []string{"stage.child", "stage.own"}, Options{Pins: basePins()})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	runs := map[string]*ExecOp{}
	for _, d := range g.Nodes {
		if d.Exec != nil {
			runs[d.Name] = d.Exec
		}
	}
	check := func(name string, args []string, cwd, user string, env ...string) {
		t.Helper()
		ex := runs[name]
		if ex == nil {
			t.Fatalf("no exec %s in %v", name, runs)
		}
		if !reflect.DeepEqual(ex.Args, args) || ex.Cwd != cwd || ex.User != user {
			t.Errorf("%s: args %q cwd %q user %q, want %q %q %q", name, ex.Args, ex.Cwd, ex.User, args, cwd, user)
		}
		for _, e := range env {
			found := false
			for _, have := range ex.Env {
				found = found || have == e
			}
			if !found {
				t.Errorf("%s: env %q lacks %s", name, ex.Env, e)
			}
		}
	}
	check("stage.child/run[0]", []string{"/bin/bash", "-c", "true"}, "/p/sub", "1000", "A=1", "B=2", "C=1")
	check("stage.child/run[1]", []string{"/bin/bash", "-c", "true"}, "/abs", "1000")
	check("stage.own/run[0]", []string{"/bin/ash", "-c", "true"}, "/o", "2000", "A=1", "B=1", "C=1")
}

// TestSortedEnvOrdersEntries holds sortedEnv to sorting the KEY=VALUE
// strings themselves, keys that are prefixes of others included.
func TestSortedEnvOrdersEntries(t *testing.T) {
	envs := []map[string]string{
		{},
		{"A": "y", "A-B": "x", "A_B": "z", "AB": "", "B": "1"},
		{"K": "v=w", "K=": "a", "K0": "b", "PATH": "/bin", "HOME": "/root", "TZ": "UTC"},
		{"X": "", "XX": "", "X=": ""},
	}
	for _, env := range envs {
		var want []string
		for k, v := range env {
			want = append(want, k+"="+v)
		}
		sort.Strings(want)
		if got := sortedEnv(env); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("sortedEnv(%v) = %q, want %q", env, got, want)
		}
	}
}

// TestSharedEnvIsCopiedOnWrite covers the stages that share their
// parent's env (and its sorted run environment): an env step in one must
// not leak into its parent or a sibling, and a step env into neither.
func TestSharedEnvIsCopiedOnWrite(t *testing.T) {
	cfg := baseConfig()
	run := func(env map[string]string) *lang.Step { return &lang.Step{Kind: "run", Shell: "true", Env: env} }
	cfg.Stages = []*lang.Stage{{
		Name: "parent", Env: map[string]string{"A": "1"},
		Steps: []*lang.Step{run(nil), run(map[string]string{"S": "1"}), run(nil)},
	}, {
		Name: "left", From: lang.Ref{Kind: "stage", Name: "parent"}, Env: map[string]string{"A": "1"},
		Steps: []*lang.Step{run(nil), {Kind: "env", Env: map[string]string{"L": "1"}}, run(nil)},
	}, {
		Name: "right", From: lang.Ref{Kind: "stage", Name: "parent"},
		Steps: []*lang.Step{run(nil)},
	}, {
		Name: "grand", From: lang.Ref{Kind: "stage", Name: "left"}, Env: map[string]string{"A": "2"},
		Steps: []*lang.Step{run(nil)},
	}}
	g, diags := Compile(cfg, []string{"stage.right", "stage.grand"}, Options{Pins: basePins()})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	fixed := []string{"HOME=/root", "LANG=C.UTF-8", "PATH=" + DefaultPath, "SOURCE_DATE_EPOCH=1700000000", "TZ=UTC"}
	want := map[string][]string{
		"stage.parent/run[0]": {"A=1"},
		"stage.parent/run[1]": {"A=1", "S=1"},
		"stage.parent/run[2]": {"A=1"},
		"stage.left/run[0]":   {"A=1"},
		"stage.left/run[2]":   {"A=1", "L=1"},
		"stage.right/run[0]":  {"A=1"},
		"stage.grand/run[0]":  {"A=2", "L=1"},
	}
	seen := 0
	for _, d := range g.Nodes {
		if d.Exec == nil {
			continue
		}
		w, ok := want[d.Name]
		if !ok {
			t.Errorf("unexpected exec %s", d.Name)
			continue
		}
		seen++
		w = append(slices.Clone(fixed), w...)
		sort.Strings(w)
		if !slices.Equal(d.Exec.Env, w) {
			t.Errorf("%s: env %q, want %q", d.Name, d.Exec.Env, w)
		}
	}
	// left/run[0] is right/run[0], compiled first, which keeps its name.
	if seen != len(want)-1 {
		t.Errorf("%d execs, want %d", seen, len(want)-1)
	}
}

// TestStepNames holds stepNames to the names and addresses it replaced.
func TestStepNames(t *testing.T) {
	for _, n := range []int{0, 1, 3, 12, 40} {
		st := &lang.Stage{Name: "s" + fmt.Sprint(n)}
		for i := range n {
			st.Steps = append(st.Steps, &lang.Step{Kind: []string{"run", "copy", "env", "run"}[i%4]})
		}
		names, addrs := stepNames(st, nil, nil)
		runs := 0
		for i, step := range st.Steps {
			if want := st.Address() + "/" + step.Kind + "[" + fmt.Sprint(i) + "]"; names[i] != want {
				t.Errorf("name %d = %q, want %q", i, names[i], want)
			}
			if step.Kind == "run" {
				if want := RunAddress(st.Name, runs); addrs[runs] != want {
					t.Errorf("address %d = %q, want %q", runs, addrs[runs], want)
				}
				runs++
			}
		}
		if len(names) != n || len(addrs) != runs {
			t.Errorf("%d steps: %d names, %d addresses", n, len(names), len(addrs))
		}
	}
}

// TestRootedIsJoin holds rooted to path.Join("/", p), which it replaced.
func TestRootedIsJoin(t *testing.T) {
	for _, p := range []string{"", ".", "/", "//", "a", "./a/", "/a/../b", "a/./b//c/", "/x/", "..", "/..", "../a", ".a", "/a/."} {
		if got, want := rooted(p), path.Join("/", p); got != want {
			t.Errorf("rooted(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestNeedsQuote holds the table to the set strings.ContainsAny used.
func TestNeedsQuote(t *testing.T) {
	for c := 0; c < 256; c++ {
		a := "x" + string([]byte{byte(c)}) + "y"
		if got, want := needsQuote(a), strings.ContainsAny(a, " \t\n'\"\\$`;&|<>(){}*?!#~"); got != want {
			t.Errorf("needsQuote(%q) = %v, want %v", a, got, want)
		}
	}
}
