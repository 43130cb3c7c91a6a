package compiler

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/lang"
)

// Pins answers what the lockfile pins a source to. lockfile.Lock implements
// it; a nil Pins leaves every external source unresolved.
type Pins interface {
	// Pin returns the pin of src for platform, and false when the lock has
	// none or the lock's entry was made for a different request.
	Pin(src *lang.Source, platform string) (string, bool)
	// FixedOutputFor returns the pinned output hash of a fixed-output run
	// step, and false when there is none or the step changed since.
	FixedOutputFor(stage *lang.Stage, step *lang.Step, address string) (string, bool)
}

// Options are what the compiler needs beyond the config. None of them is
// hashed except through the derivations they shape.
type Options struct {
	Pins Pins
	// LocalHash hashes a local source's filtered contents. Required when the
	// config has local sources.
	LocalHash func(dir string, include, exclude []string) (string, error)
	// SourceDateEpoch applies when build.hcl does not set one.
	SourceDateEpoch int64
	// Platform applies when neither build.hcl nor a block sets one.
	// Default: linux and the host's architecture.
	Platform string
	// Platforms, when set (kiln build --platform), replace the platforms
	// of every image and artifact target, and of every stage target whose
	// block names none, as buildx's --platform does.
	Platforms []string
	// LearnFixedOutputs compiles the fixed-output steps Pins has no pin
	// for without one, instead of leaving them unresolved, so that kiln
	// lock can build them once and learn what they produce. Steps Pins
	// does pin keep their pin: a step learned on top of them is then the
	// derivation a build compiles, less its own output hash.
	LearnFixedOutputs bool
}

// RunAddress is the lockfile address of a stage's n-th run step (counting
// run steps only, from 0), used to pin fixed-output steps.
func RunAddress(stage string, n int) string {
	return "stage." + stage + ".run[" + strconv.Itoa(n) + "]"
}

// Fixed sandbox settings. They are hashed (through ExecOp.Env and
// Hostname), so changing them changes every exec digest, as it should.
const (
	DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	DefaultHome = "/root"
	// DefaultSSHDir holds an ssh mount's agent socket when it names no
	// target, as BuildKit's /run/buildkit/ssh_agent.N.
	DefaultSSHDir   = "/run/ssh-agent/"
	SandboxHostname = "kiln"
)

// Summaries of the diagnostics about targets named on the command line, so
// the CLI can tell a usage error from a problem in build.hcl.
const (
	SummaryUnknownTarget   = "Unknown target"
	SummaryAmbiguousTarget = "Ambiguous target"
	SummaryNoTarget        = "No target to build"
)

// DefaultPlatform is linux/<host architecture>.
func DefaultPlatform() string { return "linux/" + runtime.GOARCH }

// graphSize guesses the node count of cfg's graph: a node per step and
// per source, most builds' bulk.
func graphSize(cfg *lang.Config) int {
	n := len(cfg.Sources)
	for _, st := range cfg.Stages {
		n += len(st.Steps)
	}
	return n
}

// Compile lowers cfg to a graph holding the named targets (addresses like
// image.app, or bare names) and everything they need. With no names it
// compiles the default targets. Problems are diagnostics with source ranges.
func Compile(cfg *lang.Config, names []string, opts Options) (*Graph, hcl.Diagnostics) {
	c := &compiler{
		cfg:  cfg,
		opts: opts,
		g:    newGraph(graphSize(cfg)),
		subs: map[string]*compiler{},
	}
	// The root compiler resolves targets; its subs lower the states.
	c.epoch = opts.SourceDateEpoch
	if e := cfg.Project.SourceDateEpoch; e != nil {
		c.epoch = *e
	}
	c.platform = DefaultPlatform()
	if opts.Platform != "" {
		c.platform = opts.Platform
	}
	if cfg.Project.Platform != "" {
		c.platform = cfg.Project.Platform
	}
	targets, diags := c.resolveTargets(names)
	if diags.HasErrors() {
		return nil, diags
	}
	for _, t := range targets {
		diags = append(diags, c.compileTarget(t)...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	c.lowerExports(targets)
	c.g.Targets = targets
	c.g.sortTopo()
	return c.g, diags
}

type stateKey struct{ stage, platform string }

type sourceKey struct{ typ, name string }

type sourceState struct {
	src      sourceKey
	platform string
}

// node is a compiled state: its digest and its position in the graph,
// which the derivations built on it pass to Graph.addAt. The empty state
// (scratch) is {"", -1}.
type node struct {
	dg digest.Digest
	at int32
}

var scratch = node{at: -1}

// sourceResult is a compiled source, kept because a source shared by
// thousands of stages would otherwise be re-encoded, re-hashed and (for
// local sources) re-read for every reference.
type sourceResult struct {
	n     node
	diags hcl.Diagnostics
	done  bool
}

// stageEntry is a stage of the compiler's config with its result on
// the compiler's target platform; a stage with a platform of its own
// keeps its results in otherStages.
type stageEntry struct {
	st   *lang.Stage
	here stageSlot
}

// stageSlot is a stage compiled, or being compiled, on one platform.
type stageSlot struct {
	// end is the stage's settings after its last step, which a stage
	// built from it starts with, as FROM X does in a Dockerfile; its
	// state is the stage's. nil until the stage compiled.
	end  *run
	busy bool
}

type sourceEntry struct {
	src  *lang.Source
	here sourceResult
}

type compiler struct {
	cfg      *lang.Config
	opts     Options
	g        *Graph
	epoch    int64
	platform string
	stages   map[string]*stageEntry
	sources  map[sourceKey]*sourceEntry
	// The results on platforms other than target (a stage or source
	// with a platform of its own), rare enough for maps.
	otherStages  map[stateKey]*stageSlot
	otherSources map[sourceState]*sourceResult
	// target is the platform this compiler lowers states for: the
	// build file as evaluated for it (cfg) gives its stages and sources.
	// The root compiler, which resolves targets, has none; subs are its
	// compilers per target platform.
	target string
	subs   map[string]*compiler
	// epochStr is epoch in decimal, made once for every run step.
	epochStr string
}

// epochEnv is SOURCE_DATE_EPOCH's value for a run step.
func (c *compiler) epochEnv() string {
	if c.epochStr == "" {
		c.epochStr = strconv.FormatInt(c.epoch, 10)
	}
	return c.epochStr
}

// forTarget is the compiler of target platform p: the build file
// evaluated with target_platform = p, sharing the graph, so that a
// derivation two platforms have in common is one node.
func (c *compiler) forTarget(p string) (*compiler, hcl.Diagnostics) {
	if sub, ok := c.subs[p]; ok {
		return sub, nil
	}
	cfg, diags := c.cfg.ForPlatform(p)
	if diags.HasErrors() {
		return nil, diags
	}
	sub := &compiler{cfg: cfg, opts: c.opts, g: c.g, epoch: c.epoch, platform: c.platform, target: p}
	sub.makeMaps()
	c.subs[p] = sub
	return sub, nil
}

// makeMaps indexes c's stages and sources, each with room for its
// result on the target platform, so that a reference costs one look-up
// by name: a build file of 10,000 stages makes about 30,000.
func (c *compiler) makeMaps() {
	c.stages = make(map[string]*stageEntry, len(c.cfg.Stages))
	entries := make([]stageEntry, len(c.cfg.Stages))
	for i, s := range c.cfg.Stages {
		entries[i].st = s
		c.stages[s.Name] = &entries[i]
	}
	c.sources = make(map[sourceKey]*sourceEntry, len(c.cfg.Sources))
	srcs := make([]sourceEntry, len(c.cfg.Sources))
	for i, s := range c.cfg.Sources {
		srcs[i].src = s
		c.sources[sourceKey{s.Type, s.Name}] = &srcs[i]
	}
	c.otherStages = map[stateKey]*stageSlot{}
	c.otherSources = map[sourceState]*sourceResult{}
}

// slot is where stage e's result on platform is kept.
func (c *compiler) slot(e *stageEntry, platform string) *stageSlot {
	if platform == c.target {
		return &e.here
	}
	k := stateKey{e.st.Name, platform}
	s := c.otherStages[k]
	if s == nil {
		s = &stageSlot{}
		c.otherStages[k] = s
	}
	return s
}

// TargetNames lists what a user can build, for error messages and help.
func TargetNames(cfg *lang.Config) []string {
	var out []string
	for _, i := range cfg.Images {
		out = append(out, i.Name)
	}
	for _, a := range cfg.Artifacts {
		out = append(out, a.Name)
	}
	for _, g := range cfg.Groups {
		out = append(out, g.Name)
	}
	for _, s := range cfg.Stages {
		out = append(out, "stage."+s.Name)
	}
	sort.Strings(out)
	return out
}

// targetList names the targets for an error message: images, artifacts
// and groups by name, and stages only by count once there are many.
func targetList(cfg *lang.Config) string {
	var names []string
	for _, n := range TargetNames(cfg) {
		if !strings.HasPrefix(n, "stage.") {
			names = append(names, n)
		}
	}
	stages := len(cfg.Stages)
	switch {
	case stages > 0 && stages <= 5:
		for _, s := range cfg.Stages {
			names = append(names, "stage."+s.Name)
		}
	case stages > 5:
		names = append(names, fmt.Sprintf("or any of the %d stages as stage.NAME", stages))
	}
	if len(names) > 20 {
		names = append(names[:20], fmt.Sprintf("and %d more", len(names)-20))
	}
	if len(names) == 0 {
		return "there are none: add an image, artifact or stage block"
	}
	return strings.Join(names, ", ")
}

func (c *compiler) resolveTargets(names []string) ([]*Target, hcl.Diagnostics) {
	if len(names) == 0 {
		names = c.cfg.Project.Default
		if len(names) == 0 {
			for _, g := range c.cfg.Groups {
				if g.Name == "default" {
					names = []string{"default"}
				}
			}
		}
		if len(names) == 0 {
			names = soleTarget(c.cfg)
		}
		if len(names) == 0 {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  SummaryNoTarget,
				Detail: fmt.Sprintf("Name a target (%s), or set kiln { default = [...] } or a group \"default\" in %s.",
					targetList(c.cfg), c.cfg.Filename),
			}}
		}
	}
	var out []*Target
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	var add func(name string, depth int)
	add = func(name string, depth int) {
		if depth > 32 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Group nesting too deep", Detail: fmt.Sprintf("Group %q nests more than 32 levels; groups must not contain themselves.", name)})
			return
		}
		var found []*Target
		var groups []*lang.Group
		kind, bare, qualified := strings.Cut(name, ".")
		if !qualified {
			bare, kind = name, ""
		}
		for _, i := range c.cfg.Images {
			if i.Name == bare && (kind == "" || kind == "image") {
				found = append(found, &Target{Kind: "image", Name: i.Name, Address: i.Address(), Platforms: c.platforms(i.Platforms)})
			}
		}
		for _, a := range c.cfg.Artifacts {
			if a.Name == bare && (kind == "" || kind == "artifact") {
				found = append(found, &Target{Kind: "artifact", Name: a.Name, Address: a.Address(), Platforms: c.platforms(a.Platforms)})
			}
		}
		for _, s := range c.cfg.Stages {
			if s.Name == bare && kind == "stage" {
				ps := []string{c.platform}
				switch {
				case s.Platform != "":
					ps = []string{s.Platform}
				case len(c.opts.Platforms) > 0:
					ps = slices.Clone(c.opts.Platforms)
				}
				found = append(found, &Target{Kind: "stage", Name: s.Name, Address: s.Address(), Platforms: ps})
			}
		}
		for _, g := range c.cfg.Groups {
			if g.Name == bare && (kind == "" || kind == "group") {
				groups = append(groups, g)
			}
		}
		switch {
		case len(found)+len(groups) == 0:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  SummaryUnknownTarget,
				Detail:   fmt.Sprintf("%s has no target %q. Targets: %s.", c.cfg.Filename, name, targetList(c.cfg)),
			})
		case len(found)+len(groups) > 1:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  SummaryAmbiguousTarget,
				Detail:   fmt.Sprintf("%q names more than one block; use image.%s or artifact.%s.", name, bare, bare),
			})
		case len(groups) == 1:
			for _, t := range groups[0].Targets {
				add(t, depth+1)
			}
		default:
			if !seen[found[0].Address] {
				seen[found[0].Address] = true
				out = append(out, found[0])
			}
		}
	}
	for _, n := range names {
		add(n, 0)
	}
	return out, diags
}

// soleTarget is the one image or artifact of a build file that declares
// only one, the target kiln build builds when none is named and there is
// no default, as docker build builds a Dockerfile's last stage; with
// several, which one is meant must be said.
func soleTarget(cfg *lang.Config) []string {
	switch {
	case len(cfg.Images) == 1 && len(cfg.Artifacts) == 0:
		return []string{cfg.Images[0].Address()}
	case len(cfg.Images) == 0 && len(cfg.Artifacts) == 1:
		return []string{cfg.Artifacts[0].Address()}
	}
	return nil
}

func (c *compiler) platforms(ps []string) []string {
	if len(c.opts.Platforms) > 0 {
		return slices.Clone(c.opts.Platforms)
	}
	if len(ps) == 0 {
		return []string{c.platform}
	}
	return ps
}

func (c *compiler) compileTarget(t *Target) hcl.Diagnostics {
	var from lang.Ref
	var rng *hcl.Range
	switch t.Kind {
	case "image":
		for _, i := range c.cfg.Images {
			if i.Name == t.Name {
				from, rng = i.From, i.DeclRange.Ptr()
			}
		}
	case "artifact":
		for _, a := range c.cfg.Artifacts {
			if a.Name == t.Name {
				from, rng = a.From, a.DeclRange.Ptr()
			}
		}
	case "stage":
		from = lang.Ref{Kind: "stage", Name: t.Name}
	}
	t.States = map[string]digest.Digest{}
	var diags hcl.Diagnostics
	if d := samePlatformTwice(t, rng); d != nil {
		return d
	}
	for _, p := range t.Platforms {
		sub, d := c.forTarget(p)
		if d.HasErrors() {
			return append(diags, d...)
		}
		s, d := sub.state(from, p)
		diags = append(diags, d...)
		t.States[p] = s.dg
	}
	return diags
}

// state returns the derivation digest of ref's state on platform; "" is
// scratch.
func (c *compiler) state(ref lang.Ref, platform string) (node, hcl.Diagnostics) {
	switch ref.Kind {
	case "":
		return scratch, nil
	case "source":
		e, ok := c.sources[sourceKey{ref.Type, ref.Name}]
		if !ok {
			return scratch, diag(ref.Range, "Reference to undeclared source", fmt.Sprintf("There is no %s block.", ref.Address()))
		}
		r := &e.here
		if platform != c.target {
			key := sourceState{sourceKey{ref.Type, ref.Name}, platform}
			if r = c.otherSources[key]; r == nil {
				r = &sourceResult{}
				c.otherSources[key] = r
			}
		}
		if !r.done {
			n, diags := c.source(e.src, platform)
			*r = sourceResult{n, diags, true}
		}
		return r.n, r.diags
	case "stage":
		n, _, diags := c.stageRef(ref, platform)
		return n, diags
	}
	return scratch, diag(ref.Range, "Invalid reference", fmt.Sprintf("%s is not a state; use a source or a stage.", ref.Address()))
}

// cleanRel makes a build-file-relative path canonical ("./x/" -> "x"), so
// that spelling does not change digests.
func cleanRel(p string) string {
	if p == "" {
		return "."
	}
	return path.Clean(filepath.ToSlash(p))
}

// run holds the state a stage threads through its steps, like a
// Dockerfile's ENV, WORKDIR and USER.
type run struct {
	state node
	// env is the stage's variables so far. It may be shared with the
	// stage's parent or the stage block (envShared), as most stages
	// change nothing of their parent's: an env step copies it first.
	env       map[string]string
	envShared bool
	// sorted is a run step's environment without a step env of its
	// own, as ExecOp.Env (every run step of the 10,000-stage plan): made
	// once, until an env step changes env. It depends on env, image and
	// platEnv, the stage's own platform (whose variables it holds).
	sorted  []string
	platEnv string
	workdir string
	user    string
	// shell is what a run step's shell line runs with (Dockerfile SHELL).
	shell []string
	// image is set when the stage's state starts at an image source, so
	// its run steps see the image config's Env.
	image bool
}

// stageRef is the state of the stage ref names, with its settings after
// its last step.
func (c *compiler) stageRef(ref lang.Ref, platform string) (node, *run, hcl.Diagnostics) {
	e, ok := c.stages[ref.Name]
	if !ok {
		return scratch, nil, diag(ref.Range, "Reference to undeclared stage", fmt.Sprintf("There is no stage %q.", ref.Name))
	}
	return c.stage(e, platform)
}

func (c *compiler) stage(e *stageEntry, platform string) (node, *run, hcl.Diagnostics) {
	st := e.st
	if st.Platform != "" {
		platform = st.Platform
	}
	slot := c.slot(e, platform)
	if slot.end != nil {
		return slot.end.state, slot.end, nil
	}
	if slot.busy {
		return scratch, nil, diag(st.DeclRange, "Stage depends on itself", fmt.Sprintf("stage %q needs its own result.", st.Name))
	}
	slot.busy = true
	defer func() { slot.busy = false }()

	var base node
	var parent *run
	var diags hcl.Diagnostics
	if st.From.Kind == "stage" {
		base, parent, diags = c.stageRef(st.From, platform)
	} else {
		base, diags = c.state(st.From, platform)
	}
	if diags.HasErrors() {
		return scratch, nil, diags
	}
	r := c.startRun(st, base, parent)
	var nameBuf, addrBuf [8]string
	names, addrs := stepNames(st, nameBuf[:0], addrBuf[:0])
	runs := 0
	for i, step := range st.Steps {
		var d hcl.Diagnostics
		if step.Kind == "run" {
			d = c.runStep(st, step, r, platform, names[i], addrs[runs])
			runs++
		} else {
			d = c.step(st, step, r, platform, names[i])
		}
		diags = append(diags, d...)
		if d.HasErrors() {
			return scratch, nil, diags
		}
	}
	slot.end = r
	return r.state, r, diags
}

// stepNames appends to names each step's Name ("stage.NAME/KIND[i]") and
// to addrs each run step's RunAddress, all slices of one string: one
// allocation a stage, where the 10,000-stage plan made one a name.
func stepNames(st *lang.Stage, names, addrs []string) ([]string, []string) {
	var spanBuf [32]int32
	spans := spanBuf[:0] // each name's end, then each address's end
	size := 0
	for _, step := range st.Steps {
		size += 2*len(st.Name) + len(step.Kind) + 32
	}
	b := make([]byte, 0, size)
	for i, step := range st.Steps {
		b = append(b, "stage."...)
		b = append(b, st.Name...)
		b = append(b, '/')
		b = append(b, step.Kind...)
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ']')
		spans = append(spans, int32(len(b)))
	}
	runs := 0
	for _, step := range st.Steps {
		if step.Kind != "run" {
			continue
		}
		b = append(b, "stage."...)
		b = append(b, st.Name...)
		b = append(b, ".run["...)
		b = strconv.AppendInt(b, int64(runs), 10)
		b = append(b, ']')
		spans = append(spans, int32(len(b)))
		runs++
	}
	all := string(b)
	at := int32(0)
	for i, end := range spans {
		if i < len(st.Steps) {
			names = append(names, all[at:end])
		} else {
			addrs = append(addrs, all[at:end])
		}
		at = end
	}
	return names, addrs
}

// DefaultShell runs a run step's shell line when no stage sets shell.
var DefaultShell = []string{"/bin/sh", "-c"}

// startRun is the state a stage's first step sees. A stage from another
// stage (parent: that stage's settings after its last step) starts with
// its env, workdir, user and shell, as FROM X does in a Dockerfile; the
// stage's own settings override them.
func (c *compiler) startRun(st *lang.Stage, base node, parent *run) *run {
	r := &run{state: base, workdir: "/", shell: DefaultShell, platEnv: st.Platform}
	switch {
	case parent == nil:
		r.env, r.envShared = st.Env, true
		r.image = c.imageBased(st.From)
	case subsetOf(st.Env, parent.env):
		r.env, r.envShared = parent.env, true
		if parent.platEnv == r.platEnv {
			r.sorted = parent.sorted
		}
	default:
		r.env = make(map[string]string, len(parent.env)+len(st.Env))
		maps.Copy(r.env, parent.env)
		maps.Copy(r.env, st.Env)
	}
	if parent != nil {
		r.workdir, r.user, r.shell = parent.workdir, parent.user, parent.shell
		// The parent's state starts where this one does.
		r.image = parent.image
	}
	if st.Workdir != "" {
		r.workdir = rooted(st.Workdir)
	}
	if st.User != "" {
		r.user = st.User
	}
	if len(st.Shell) > 0 {
		r.shell = st.Shell
	}
	return r
}

// subsetOf reports whether every variable of env is set to the same in
// in.
func subsetOf(env, in map[string]string) bool {
	for k, v := range env {
		if w, ok := in[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// imageBased reports whether ref's state starts at a source that carries
// an image config (image, oci-layout), following stages' from. stage has already compiled the chain, so
// it has no cycle; the bound only guards against a bug looping forever.
func (c *compiler) imageBased(ref lang.Ref) bool {
	for range len(c.stages) + 1 {
		switch ref.Kind {
		case "source":
			_, ok := sourceKinds[ref.Type].(imageSourceKind)
			return ok
		case "stage":
			e, ok := c.stages[ref.Name]
			if !ok {
				return false
			}
			ref = e.st.From
		default:
			return false
		}
	}
	return false
}

func (c *compiler) step(st *lang.Stage, s *lang.Step, r *run, platform, name string) hcl.Diagnostics {
	switch s.Kind {
	case "env":
		if r.envShared {
			env := make(map[string]string, len(r.env)+len(s.Env))
			maps.Copy(env, r.env)
			r.env, r.envShared = env, false
		}
		maps.Copy(r.env, s.Env)
		r.sorted = nil
		return nil
	case "workdir":
		r.workdir = r.abs(s.Workdir)
		return nil
	case "user":
		r.user = s.User
		return nil
	}

	n := &fileNode{d: Derivation{Kind: KindFile, SourceDateEpoch: c.epoch, Name: name}, fo: FileOp{Base: -1}}
	d, fo := &n.d, &n.fo
	d.File = fo
	d.Inputs, fo.Actions = n.in[:0], n.act[:0]
	var insBuf [2]int32
	ins := insBuf[:0]
	if r.state.dg != "" {
		fo.Base = 0
		d.Inputs = append(d.Inputs, r.state.dg)
		ins = append(ins, r.state.at)
	}
	var diags hcl.Diagnostics
	switch s.Kind {
	case "copy":
		var from int32
		from, diags = c.copyStep(s, r, platform, d)
		ins = append(ins, from)
	case "mkdir":
		diags = mkdirStep(s, r, d)
	case "file":
		diags = fileStep(s, r, d)
	case "symlink":
		fo.Actions = append(fo.Actions, FileAction{Action: "symlink", Path: r.abs(s.Path), Target: s.Target, Parents: true})
		d.Description = fmt.Sprintf("symlink %s -> %s", r.abs(s.Path), s.Target)
	case "remove":
		fo.Actions = append(fo.Actions, FileAction{Action: "rm", Path: r.abs(s.Path), AllowNotFound: true})
		d.Description = "remove " + r.abs(s.Path)
	default:
		return diag(s.Range, "Unsupported step", fmt.Sprintf("kiln cannot compile a %q step.", s.Kind))
	}
	if diags.HasErrors() {
		return diags
	}
	// None is nil, as before the node's own room was lent: the encoding
	// of no actions (null) is hashed.
	if len(d.Inputs) == 0 {
		d.Inputs = nil
	}
	if len(fo.Actions) == 0 {
		fo.Actions = nil
	}
	dg, at, err := c.g.addAt(d, ins)
	if err != nil {
		return diag(s.Range, "Invalid step", err.Error())
	}
	r.state = node{dg, at}
	return nil
}

// fileNode is a file step's derivation with its op, inputs and first
// action: one allocation, not four (the 10,000-stage plan has 26,000).
type fileNode struct {
	d   Derivation
	fo  FileOp
	in  [2]digest.Digest
	act [1]FileAction
}

// execNode is a run step's derivation with its op, its root and first
// input mount, a shell line's arguments and its first mount.
type execNode struct {
	d      Derivation
	ex     ExecOp
	in     [2]digest.Digest
	args   [3]string
	mounts [1]Mount
}

// rooted is path.Join("/", p), without Join's allocations for the usual
// absolute and clean p.
func rooted(p string) string {
	switch {
	case strings.HasPrefix(p, "/"):
		return path.Clean(p)
	case p == "" || p == ".":
		return "/"
	}
	return path.Join("/", p)
}

// abs makes a step's path absolute against the current working directory.
func (r *run) abs(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(r.workdir, p)
}

// copyStep copies paths out of another state: its state becomes the file
// op's next input, whose position it returns.
func (c *compiler) copyStep(s *lang.Step, r *run, platform string, d *Derivation) (int32, hcl.Diagnostics) {
	if s.From.IsScratch() {
		return -1, diag(s.Range, "copy needs from", "Set from = source.local.NAME or stage.NAME: the state to copy out of.")
	}
	src, diags := c.state(s.From, platform)
	if diags.HasErrors() {
		return -1, diags
	}
	own, err := parseChown(s.Chown)
	if err != nil {
		return -1, diag(s.Range, "Invalid chown", err.Error())
	}
	mode, chmod, err := parseMode(s.Chmod, 0)
	if err != nil {
		return -1, diag(s.Range, "Invalid chmod", err.Error())
	}
	if src.dg == "" {
		return -1, diag(s.From.Range, "copy from an empty state", fmt.Sprintf("%s is scratch: there is nothing to copy.", s.From.Address()))
	}
	d.Inputs = append(d.Inputs, src.dg)
	dest := r.abs(s.Dest)
	if strings.HasSuffix(s.Dest, "/") && dest != "/" {
		if len(s.Dest) == len(dest)+1 && strings.HasPrefix(s.Dest, dest) {
			dest = s.Dest // already "dest/"
		} else {
			dest += "/"
		}
	}
	for _, p := range s.Src {
		d.File.Actions = append(d.File.Actions, FileAction{
			Action: "copy", SrcInput: len(d.Inputs) - 1, Src: rooted(p), Path: dest,
			Mode: mode, ChmodSet: chmod, UID: own.uid, GID: own.gid, Owner: own.names, Parents: true,
		})
	}
	// Concatenated, not formatted: fmt boxes each argument, and the
	// 10,000-stage plan describes 10,000 copies.
	d.Description = "copy " + s.From.Address() + ":" + strings.Join(s.Src, ",") + " -> " + dest
	return src.at, nil
}

func mkdirStep(s *lang.Step, r *run, d *Derivation) hcl.Diagnostics {
	mode, _, err := parseMode(s.Mode, 0o755)
	if err != nil {
		return diag(s.Range, "Invalid mode", err.Error())
	}
	own, err := parseChown(s.Chown)
	if err != nil {
		return diag(s.Range, "Invalid chown", err.Error())
	}
	d.File.Actions = append(d.File.Actions, FileAction{Action: "mkdir", Path: r.abs(s.Path), Mode: mode, Parents: s.Parents, UID: own.uid, GID: own.gid, Owner: own.names})
	d.Description = "mkdir " + r.abs(s.Path)
	return nil
}

func fileStep(s *lang.Step, r *run, d *Derivation) hcl.Diagnostics {
	mode, _, err := parseMode(s.Mode, 0o644)
	if err != nil {
		return diag(s.Range, "Invalid mode", err.Error())
	}
	own, err := parseChown(s.Chown)
	if err != nil {
		return diag(s.Range, "Invalid chown", err.Error())
	}
	d.File.Actions = append(d.File.Actions, FileAction{Action: "mkfile", Path: r.abs(s.Path), Mode: mode, Data: s.Content, UID: own.uid, GID: own.gid, Owner: own.names, Parents: true})
	d.Description = "write " + r.abs(s.Path)
	return nil
}

func (c *compiler) runStep(st *lang.Stage, s *lang.Step, r *run, platform, name, lockAddr string) hcl.Diagnostics {
	n := &execNode{}
	args := s.Args
	if s.Shell != "" {
		args = append(append(n.args[:0], r.shell...), s.Shell)
	}
	if len(args) == 0 {
		return diag(s.Range, "run has no command", `Set command = ["prog", "arg"] or shell = "...".`)
	}
	var envList []string
	var env map[string]string
	if len(s.Env) == 0 && len(s.ImpureEnv) == 0 && r.sorted != nil {
		envList = r.sorted
	} else {
		// Filled in place, not returned, so that the map stays on the
		// stack.
		env = map[string]string{
			"TZ":                "UTC",
			"LANG":              "C.UTF-8",
			"SOURCE_DATE_EPOCH": c.epochEnv(),
		}
		if st.Platform != "" {
			c.platformEnv(env, platform)
		}
		if diags := runEnv(env, s, r); diags.HasErrors() {
			return diags
		}
		envList = sortedEnv(env)
		if len(s.Env) == 0 {
			// Capped, so that appending to one step's Env cannot
			// write into another's.
			r.sorted = envList[:len(envList):len(envList)]
		}
	}
	cwd := r.workdir
	if s.Workdir != "" {
		// Absolute (lang checks), so it replaces the stage's, as
		// RUN after WORKDIR /abs does.
		cwd = r.abs(s.Workdir)
	}
	user := r.user
	if s.User != "" {
		user = s.User
	}
	network := runNetwork(st, s)
	n.ex = ExecOp{Args: args, Env: envList, Cwd: cwd, User: user, Hostname: SandboxHostname, ImageEnv: r.image, Network: network, Root: -1, Mounts: n.mounts[:0]}
	n.d = Derivation{Kind: KindExec, Platform: platform, SourceDateEpoch: c.epoch, Exec: &n.ex, Name: name, Inputs: n.in[:0]}
	ex, d := &n.ex, &n.d
	var insBuf [4]int32
	ins := insBuf[:0]
	if r.state.dg != "" {
		ex.Root = 0
		d.Inputs = append(d.Inputs, r.state.dg)
		ins = append(ins, r.state.at)
	}
	if s.Insecure {
		ex.Security = "insecure"
	}
	if diags := impureEnv(s, env, ex); diags.HasErrors() {
		return diags
	}
	if diags := c.fixedOutput(st, s, lockAddr, d); diags.HasErrors() {
		return diags
	}
	for _, m := range s.Mounts {
		km, at, diags := c.mount(m, platform, d)
		if diags.HasErrors() {
			return diags
		}
		if len(d.Inputs) > len(ins) { // an input mount
			ins = append(ins, at)
		}
		ex.Mounts = append(ex.Mounts, km)
	}
	if len(ex.Mounts) > 1 {
		sort.SliceStable(ex.Mounts, func(i, j int) bool { return ex.Mounts[i].Dest < ex.Mounts[j].Dest })
	}
	// None is nil, as before the node's own room was lent.
	if len(ex.Mounts) == 0 {
		ex.Mounts = nil
	}
	if len(d.Inputs) == 0 {
		d.Inputs = nil
	}
	d.Limits = runLimits(st, s)
	var desc [160]byte
	d.Description = string(appendShellQuote(append(desc[:0], "run "...), args))
	if ex.Security != "" {
		// Plans and progress show which steps run unfiltered.
		d.Description += " [security=" + ex.Security + "]"
	}
	dg, at, err := c.g.addAt(d, ins)
	if err != nil {
		return diag(s.Range, "Invalid run step", err.Error())
	}
	r.state = node{dg, at}
	return nil
}

// runEnv adds to kiln's fixed variables in env the rest of a run step's
// environment: the defaults of a state without an image config, the
// stage's env, the step's.
func runEnv(env map[string]string, s *lang.Step, r *run) hcl.Diagnostics {
	if !r.image {
		// On an image, the realizer supplies PATH and HOME: the image's
		// own, or these defaults when its config has none.
		env["PATH"] = DefaultPath
		env["HOME"] = DefaultHome
	}
	for k, v := range r.env {
		env[k] = v
	}
	for k, v := range s.Env {
		env[k] = v
	}
	if _, ok := s.Env["SOURCE_DATE_EPOCH"]; ok {
		return diag(s.Range, "SOURCE_DATE_EPOCH is set by kiln", "Set it with kiln { source_date_epoch = N } or --source-date-epoch so that it is the same for every step and in the outputs.")
	}
	return nil
}

// runNetwork is the step's network, else the stage's, else none.
func runNetwork(st *lang.Stage, s *lang.Step) string {
	switch {
	case s.Network != "":
		return s.Network
	case st.Network != "":
		return st.Network
	}
	return "none"
}

// impureEnv records the variables a step takes from kiln's environment,
// which only a fixed-output step may do.
func impureEnv(s *lang.Step, env map[string]string, ex *ExecOp) hcl.Diagnostics {
	for _, n := range s.ImpureEnv {
		if _, ok := env[n]; ok {
			return diag(s.Range, "Variable both pure and impure", fmt.Sprintf("%s is set by env and also listed in impure_env: keep one (env hashes its value, impure_env takes it from kiln's environment at build time).", n))
		}
	}
	if len(s.ImpureEnv) > 0 {
		if !s.FixedOutput {
			return diag(s.Range, "impure_env needs a fixed output", "Only a run step with fixed_output = true may take variables from kiln's environment: its output is pinned by hash, so their values cannot change it unnoticed.")
		}
		ex.ImpureEnv = append([]string(nil), s.ImpureEnv...)
		sort.Strings(ex.ImpureEnv)
	}
	return nil
}

// fixedOutput pins a fixed-output step's output hash from the lock (none
// while learning it: d is then resolved by building). A step that is not
// fixed-output may not use the network.
func (c *compiler) fixedOutput(st *lang.Stage, s *lang.Step, lockAddr string, d *Derivation) hcl.Diagnostics {
	ex := d.Exec
	if !s.FixedOutput {
		if ex.Network != "none" {
			return diag(s.Range, "Network needs a fixed output", `Only a run step with fixed_output = true may use network = "host": its result is pinned in build.lock.hcl, so the network cannot change it unnoticed.`)
		}
		return nil
	}
	d.LockAddress = lockAddr
	if c.opts.Pins != nil {
		if h, ok := c.opts.Pins.FixedOutputFor(st, s, lockAddr); ok {
			ex.OutputHash = h
		}
	}
	if ex.OutputHash == "" && !c.opts.LearnFixedOutputs {
		d.Unresolved = true
	}
	return nil
}

// mount lowers one mount of a run step; an input mount adds its state to
// d's inputs and returns its position (-1 for any other mount).
func (c *compiler) mount(m *lang.Mount, platform string, d *Derivation) (Mount, int32, hcl.Diagnostics) {
	km := Mount{Type: m.Type, Dest: rooted(m.Target), Input: -1}
	switch m.Type {
	case "input":
		in, diags := c.state(m.From, platform)
		if diags.HasErrors() {
			return km, -1, diags
		}
		if in.dg == "" {
			return km, -1, diag(m.Range, "Mount of an empty state", fmt.Sprintf("%s is scratch; mount a source or a stage.", m.From.Address()))
		}
		d.Inputs = append(d.Inputs, in.dg)
		km.Input = len(d.Inputs) - 1
		if m.Source != "" && m.Source != "/" {
			km.Selector = rooted(m.Source)
		}
		km.ReadOnly = !m.ReadWrite
		return km, in.at, nil
	case "cache":
		km.CacheID = m.ID
		if km.CacheID == "" {
			km.CacheID = km.Dest
		}
		km.Sharing = m.Sharing
		if km.Sharing == "" {
			km.Sharing = "shared"
		}
		// 0 (unset) leaves the directory as kiln makes it (0755), so
		// that caches without a mode keep their digests.
		mode, _, err := parseMode(m.Mode, 0)
		if err != nil {
			return km, -1, diag(m.Range, "Invalid mode", err.Error())
		}
		km.Mode = mode
	case "tmpfs":
		km.SizeBytes = m.SizeBytes
	case "secret":
		km, diags := secretMount(m, km)
		return km, -1, diags
	case "ssh":
		km.SSHID = m.ID
		km.Required = m.Required
		if m.Target == "" {
			km.Dest = DefaultSSHDir + m.ID
		}
	default:
		return km, -1, diag(m.Range, "Unsupported mount type", fmt.Sprintf("Mount type %q is not one of input, cache, tmpfs, secret, ssh.", m.Type))
	}
	return km, -1, nil
}

// secretMount lowers a secret mount: a file under /run/secrets by default,
// or only a variable when it names env and no target.
func secretMount(m *lang.Mount, km Mount) (Mount, hcl.Diagnostics) {
	if m.ID == "" {
		return km, diag(m.Range, "Secret needs an id", `Set id = "NAME"; pass the value with --secret id=NAME,src=FILE or env=VAR.`)
	}
	km.SecretID = m.ID
	km.SecretEnv = m.Env
	km.Required = m.Required
	if m.Target == "" {
		km.Dest = "/run/secrets/" + m.ID
	}
	if m.Env != "" && m.Target == "" {
		km.Dest = ""
	}
	mode, _, err := parseMode(m.Mode, 0o400)
	if err != nil {
		return km, diag(m.Range, "Invalid mode", err.Error())
	}
	km.Mode = mode
	return km, nil
}

// runLimits are the stage's limits with the step's in their place.
func runLimits(st *lang.Stage, s *lang.Step) Limits {
	l := Limits{MemoryBytes: st.Limits.MemoryBytes, Pids: st.Limits.Pids, TimeoutSec: st.Limits.TimeoutSec}
	if s.Limits.MemoryBytes != 0 {
		l.MemoryBytes = s.Limits.MemoryBytes
	}
	if s.Limits.Pids != 0 {
		l.Pids = s.Limits.Pids
	}
	if s.Limits.TimeoutSec != 0 {
		l.TimeoutSec = s.Limits.TimeoutSec
	}
	return l
}

// sortedEnv returns env as KEY=VALUE entries in byte order. The entries
// are slices of one string (two allocations, not one per entry): a build
// file of 10,000 stages has 20,000 run steps of about eight variables.
func sortedEnv(env map[string]string) []string {
	// Built on the stack (a typical run step's environment fits), then
	// copied once into the string the entries share.
	var buf [512]byte
	var endBuf [32]int
	b, ends := buf[:0], endBuf[:0]
	for k, v := range env {
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, v...)
		ends = append(ends, len(b))
	}
	all := string(b)
	out := make([]string, len(ends))
	at := 0
	for i, end := range ends {
		out[i] = all[at:end]
		at = end
	}
	sort.Strings(out)
	return out
}

func shellQuote(args []string) string {
	var buf [160]byte
	return string(appendShellQuote(buf[:0], args))
}

// shellSpecial are the bytes that make appendShellQuote quote an
// argument: a table, where strings.ContainsAny built its set per call.
var shellSpecial = func() (t [256]bool) {
	for _, c := range []byte(" \t\n'\"\\$`;&|<>(){}*?!#~") {
		t[c] = true
	}
	return t
}()

func needsQuote(a string) bool {
	for i := 0; i < len(a); i++ {
		if shellSpecial[a[i]] {
			return true
		}
	}
	return false
}

// appendShellQuote appends shellQuote(args) to b, so that a run step's
// description is built in one buffer (the 10,000-stage plan has 20,000).
func appendShellQuote(b []byte, args []string) []byte {
	start := len(b)
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		if a != "" && !needsQuote(a) {
			b = append(b, a...)
			continue
		}
		if strings.ContainsAny(a, "\n\r\t") {
			// A multi-line command stays on one line: plans and progress
			// show one derivation per line.
			b = append(b, ansiCQuote(a)...)
			continue
		}
		b = append(b, '\'')
		for j := 0; j < len(a); j++ {
			if a[j] == '\'' {
				b = append(b, `'\''`...)
			} else {
				b = append(b, a[j])
			}
		}
		b = append(b, '\'')
	}
	if len(b)-start > 120 {
		b = append(b[:start+117], "..."...)
	}
	return b
}

func ansiCQuote(s string) string {
	var b strings.Builder
	b.WriteString("$'")
	for _, r := range s {
		switch r {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// parseMode parses an octal mode such as "0755"; empty gives def.
func parseMode(s string, def uint32) (uint32, bool, error) {
	if s == "" {
		return def, false, nil
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, false, fmt.Errorf("mode %q is not an octal mode such as \"0755\"", s)
	}
	return uint32(v), true, nil
}

// owner is a chown attribute lowered: numeric ids, or the names to look
// up when the step is realized.
type owner struct {
	uid, gid int
	names    string
}

// parseChown parses "uid[:gid]" (the gid defaulting to the uid) or, when
// either part is a name, keeps "user[:group]" for the realizer, which has
// the state's /etc/passwd and /etc/group.
func parseChown(s string) (owner, error) {
	if s == "" {
		return owner{}, nil
	}
	u, g, hasG := strings.Cut(s, ":")
	if u == "" || (hasG && g == "") {
		return owner{}, fmt.Errorf("owner %q needs a user, and a group after the colon, such as \"1000:1000\" or \"app:app\"", s)
	}
	uid, uerr := strconv.Atoi(u)
	gid, gerr := uid, error(nil)
	if hasG {
		gid, gerr = strconv.Atoi(g)
	}
	if uerr != nil || gerr != nil {
		return owner{names: s}, nil
	}
	if uid < 0 || gid < 0 {
		return owner{}, fmt.Errorf("owner %q has a negative id", s)
	}
	return owner{uid: uid, gid: gid}, nil
}

func diag(r hcl.Range, summary, detail string) hcl.Diagnostics {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
	if r.Filename != "" {
		rr := r
		d.Subject = &rr
	}
	return hcl.Diagnostics{d}
}
