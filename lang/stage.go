package lang

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/kiln-build/kiln/attest"
	"github.com/kiln-build/kiln/internal/lazyre"
)

// stepKinds are the ordered sub-blocks of a stage.
var stepKinds = []string{"run", "copy", "mkdir", "file", "symlink", "remove", "env", "workdir", "user"}

var stageSchema = func() *hcl.BodySchema {
	s := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "from"}, {Name: "platform"}, {Name: "env"}, {Name: "workdir"}, {Name: "user"},
		{Name: "network"}, {Name: "memory"}, {Name: "pids"}, {Name: "timeout"}, {Name: "shell"},
	}}
	for _, k := range stepKinds {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k})
	}
	return s
}()

var stepSchemas = map[string]*hcl.BodySchema{
	"run": {
		Attributes: []hcl.AttributeSchema{
			{Name: "command"}, {Name: "shell"}, {Name: "env"}, {Name: "workdir"}, {Name: "user"},
			{Name: "network"}, {Name: "fixed_output"}, {Name: "impure_env"}, {Name: "memory"}, {Name: "pids"}, {Name: "timeout"},
			{Name: "security"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "mount", LabelNames: []string{"type"}}},
	},
	"copy": {Attributes: []hcl.AttributeSchema{
		{Name: "from", Required: true}, {Name: "src", Required: true}, {Name: "dest", Required: true}, {Name: "chown"}, {Name: "chmod"}}},
	"mkdir":   {Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}, {Name: "mode"}, {Name: "parents"}, {Name: "chown"}}},
	"file":    {Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}, {Name: "content", Required: true}, {Name: "mode"}, {Name: "chown"}}},
	"symlink": {Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}, {Name: "target", Required: true}}},
	"remove":  {Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}}},
	"workdir": {Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}}},
	"user":    {Attributes: []hcl.AttributeSchema{{Name: "name", Required: true}}},
}

var mountTypes = []string{"input", "cache", "tmpfs", "secret", "ssh"}

var mountSchemas = map[string]*hcl.BodySchema{
	"input": {Attributes: []hcl.AttributeSchema{
		{Name: "target", Required: true}, {Name: "from", Required: true}, {Name: "source"}, {Name: "readwrite"}}},
	"cache": {Attributes: []hcl.AttributeSchema{
		{Name: "target", Required: true}, {Name: "id"}, {Name: "sharing"}, {Name: "mode"}}},
	"tmpfs": {Attributes: []hcl.AttributeSchema{{Name: "target", Required: true}, {Name: "size"}}},
	"secret": {Attributes: []hcl.AttributeSchema{
		{Name: "id", Required: true}, {Name: "target"}, {Name: "env"}, {Name: "required"}, {Name: "mode"}}},
	"ssh": {Attributes: []hcl.AttributeSchema{{Name: "id"}, {Name: "target"}, {Name: "required"}}},
}

func (e *evaluator) decodeStage(b *hcl.Block) *Stage {
	blocks, a := e.content(e.expandDynamic(b.Body), stageSchema)
	st := &Stage{Name: b.Labels[0], DeclRange: b.DefRange}
	st.From = a.ref("from")
	st.Platform = a.platform("platform")
	st.Env = a.env("env")
	st.Workdir = a.absPath("workdir")
	st.User = e.user(a, "user")
	if sh, ok := e.argv(a, "shell"); ok && len(sh) == 0 {
		e.errorf(a.rng("shell"), "Empty shell", "shell needs at least the program that runs a shell line, like [\"/bin/bash\", \"-c\"].")
	} else {
		st.Shell = sh
	}
	st.Network = "none"
	if n := a.oneOf("network", "none", "host"); n == "host" {
		e.errorf(a.rng("network"), "Host network not allowed here",
			"A stage cannot use the host network: only a run step with fixed_output = true may, as its output is pinned by hash. Move network = \"host\" into that run block.")
	}
	st.Limits = a.limits()
	if n := blocks.len(); n > 0 {
		// One allocation for all of a stage's steps rather than one each:
		// they live and die with the stage.
		steps := make([]Step, n)
		st.Steps = make([]*Step, n)
		for i := range n {
			var view hcl.Block
			e.decodeStep(blocks.at(i, &view), &steps[i])
			st.Steps[i] = &steps[i]
		}
	}
	return st
}

var userRe = lazyre.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$`)

func (e *evaluator) user(a attrs, name string) string {
	s, _ := a.parsed(name, func(s string) error {
		if !userRe.MatchString(s) {
			return fmt.Errorf("%q is not a user; write a name or uid, optionally with :group or :gid", s)
		}
		return nil
	})
	return s
}

var sshIDRe = lazyre.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

var chownRe = lazyre.New(`^(\d+)(?::(\d+))?$`)

// decodeStep decodes b into s, which is zero.
func (e *evaluator) decodeStep(b *hcl.Block, s *Step) {
	s.Kind, s.Range = b.Type, b.DefRange
	if b.Type == "env" {
		s.Env = e.decodeEnv(b)
		return
	}
	blocks, a := e.content(b.Body, stepSchemas[b.Type])
	switch b.Type {
	case "run":
		e.decodeRun(b, s, blocks, a)
	case "copy":
		s.From = a.ref("from")
		var ok bool
		if s.Src, ok = a.strOrStrs("src"); ok && len(s.Src) == 0 {
			e.errorf(a.rng("src"), "No source paths", "List at least one path to copy.")
		}
		s.Dest = e.nonEmpty(a, "dest")
		s.Chown = chown(a, "chown")
		s.Chmod, _ = a.mode("chmod")
	case "mkdir":
		s.Path = e.nonEmpty(a, "path")
		s.Mode, _ = a.mode("mode")
		s.Parents = a.boolean("parents")
		s.Chown = chown(a, "chown")
	case "file":
		s.Path = e.nonEmpty(a, "path")
		s.Content = a.str("content")
		s.Mode, _ = a.mode("mode")
		s.Chown = chown(a, "chown")
	case "symlink":
		s.Path = e.nonEmpty(a, "path")
		s.Target = e.nonEmpty(a, "target")
	case "remove":
		s.Path = e.nonEmpty(a, "path")
	case "workdir":
		s.Workdir = a.absPath("path")
	case "user":
		s.User = e.user(a, "name")
	}
}

// decodeEnv reads env { NAME = "value" }: the names are the attributes,
// as in a Dockerfile's ENV.
func (e *evaluator) decodeEnv(b *hcl.Block) map[string]string {
	as, ds := b.Body.JustAttributes()
	e.add(ds)
	env := make(map[string]string, len(as))
	names := make([]string, 0, len(as))
	for n := range as {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !validEnvName(n) {
			e.errorf(as[n].NameRange.Ptr(), "Invalid environment variable name",
				"%q cannot be an environment variable name: use letters, digits and underscores, not starting with a digit.", n)
			continue
		}
		a := attrs{e: e, attrs: as}
		env[n] = a.str(n)
	}
	return env
}

// decodeRun reads a run step: its command or shell line, what it runs
// as and with, and its mounts.
func (e *evaluator) decodeRun(b *hcl.Block, s *Step, blocks blockList, a attrs) {
	hasCmd, hasShell := a.has("command"), a.has("shell")
	switch {
	case hasCmd && hasShell:
		e.errorf(a.rng("shell"), "Conflicting arguments", "A run step has either command (a list, run as is) or shell (a string, run with /bin/sh -c), not both.")
	case hasCmd:
		args, ok := e.argv(a, "command")
		if ok && len(args) == 0 {
			e.errorf(a.rng("command"), "Empty command", "command needs at least the program to run.")
		}
		s.Args = args
	case hasShell:
		s.Shell = a.str("shell")
	default:
		e.errorf(b.DefRange.Ptr(), "Missing command", "A run step needs command = [\"prog\", \"arg\"] or shell = \"a shell line\".")
	}
	s.Env = a.env("env")
	s.Workdir = a.absPath("workdir")
	s.User = e.user(a, "user")
	s.FixedOutput = a.boolean("fixed_output")
	s.Network = a.oneOf("network", "none", "host")
	if s.Network == "host" && !s.FixedOutput {
		e.errorf(a.rng("network"), "Host network needs a fixed output",
			"network = \"host\" is allowed only on a run step with fixed_output = true, whose output is pinned by hash in build.lock.hcl; add fixed_output = true (then run kiln lock) or remove the network setting.")
	}
	s.ImpureEnv = e.impureEnv(a, s.FixedOutput)
	s.Insecure = e.security(a)
	s.Limits = a.limits()
	for i := range blocks.len() {
		var view hcl.Block
		if m := e.decodeMount(blocks.at(i, &view)); m != nil {
			s.Mounts = append(s.Mounts, m)
		}
	}
}

// chown reads user[:group], each a name or a numeric id; a numeric uid
// alone gets the uid as its gid, so that "1000" and "1000:1000" are one
// spelling and one digest. Names are looked up in the stage's
// /etc/passwd and /etc/group when the step runs.
func chown(a attrs, name string) string {
	ch, ok := a.parsed(name, func(v string) error {
		if !userRe.MatchString(v) {
			return fmt.Errorf("%q is not an owner; write user[:group], names or numeric ids, like \"app:app\" or \"1000:1000\"", v)
		}
		return nil
	})
	if !ok {
		return ""
	}
	if m := chownRe.FindStringSubmatch(ch); m != nil {
		if m[2] == "" {
			m[2] = m[1]
		}
		return m[1] + ":" + m[2]
	}
	return ch
}

// security decodes a run step's security: "insecure" is the only value,
// named after BuildKit's RUN --security=insecure. BuildKit's name for the
// default, "sandbox", is refused like any other, so that a step has one
// spelling and one digest.
func (e *evaluator) security(a attrs) bool {
	if !a.has("security") {
		return false
	}
	s, ok := a.strOK("security")
	if !ok {
		return false // a.get reported the type error
	}
	if s != "insecure" {
		e.errorf(a.rng("security"), "Invalid security",
			"Attribute \"security\": %q is not a security mode; the only one is \"insecure\" (every capability, no seccomp filter, as BuildKit's RUN --security=insecure). Leave security out for the default sandbox.", s)
		return false
	}
	return true
}

// fixedEnv are the variables kiln sets in every sandbox; letting the
// host's values in would make the step's environment differ by machine.
var fixedEnv = map[string]bool{"PATH": true, "HOME": true, "TZ": true, "LANG": true, "SOURCE_DATE_EPOCH": true}

// impureEnv reads a run step's impure_env: names only, sorted and
// distinct, allowed on fixed-output steps alone.
func (e *evaluator) impureEnv(a attrs, fixedOutput bool) []string {
	if !a.has("impure_env") {
		return nil
	}
	names := a.strs("impure_env")
	if !fixedOutput {
		e.errorf(a.rng("impure_env"), "impure_env needs a fixed output",
			"impure_env passes variables of kiln's own environment into the step without hashing their values, which is safe only when the output is pinned by hash: add fixed_output = true (then run kiln lock) or remove impure_env.")
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		switch {
		case !validEnvName(n):
			e.errorf(a.rng("impure_env"), "Invalid environment variable name",
				"%q cannot be an environment variable name: use letters, digits and underscores, not starting with a digit.", n)
		case fixedEnv[n]:
			e.errorf(a.rng("impure_env"), "Variable set by kiln",
				"%s is part of the fixed sandbox environment and cannot come from the host; set it with env if the step needs another value.", n)
		case !seen[n]:
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (e *evaluator) nonEmpty(a attrs, name string) string {
	s, ok := a.strOK(name)
	if ok && s == "" {
		e.errorf(a.rng(name), "Empty "+name, "Attribute %q cannot be empty.", name)
	}
	return s
}

func (e *evaluator) decodeMount(b *hcl.Block) *Mount {
	typ := b.Labels[0]
	schema := mountSchemas[typ]
	if schema == nil {
		e.errorf(&b.LabelRanges[0], "Unknown mount type", "There is no mount type %q; use one of %s.", typ, strings.Join(mountTypes, ", "))
		return nil
	}
	_, a := e.content(b.Body, schema)
	m := &Mount{Type: typ, Range: b.DefRange}
	if a.has("target") {
		m.Target = a.absPath("target")
	}
	switch typ {
	case "input":
		m.From = a.ref("from")
		m.Source = a.str("source")
		m.ReadWrite = a.boolean("readwrite")
	case "cache":
		m.ID = a.str("id")
		if m.ID == "" {
			m.ID = m.Target
		}
		m.Sharing = "shared"
		if s := a.oneOf("sharing", "shared", "private", "locked"); s != "" {
			m.Sharing = s
		}
		m.Mode, _ = a.mode("mode")
	case "tmpfs":
		m.SizeBytes = a.size("size")
	case "secret":
		m.ID = a.str("id")
		m.Env = a.str("env")
		if m.Env != "" && !validEnvName(m.Env) {
			e.errorf(a.rng("env"), "Invalid environment variable name", "%q cannot be an environment variable name.", m.Env)
		}
		if m.Target == "" && m.Env == "" && m.ID != "" {
			m.Target = "/run/secrets/" + m.ID
		}
		m.Required = a.boolean("required")
		m.Mode, _ = a.mode("mode")
	case "ssh":
		m.ID = a.str("id")
		if m.ID == "" {
			m.ID = "default"
		}
		if !sshIDRe.MatchString(m.ID) {
			e.errorf(a.rng("id"), "Invalid ssh id", "%q cannot be an ssh id: use letters, digits, '.', '_' and '-'.", m.ID)
		}
		// Required unless turned off: a step that needs an agent and
		// runs without one fails later with a far less clear error.
		m.Required = !a.has("required") || a.boolean("required")
	}
	return m
}

// --- targets ---

var imageSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "from"}, {Name: "platforms"}, {Name: "entrypoint"}, {Name: "cmd"}, {Name: "env"},
	{Name: "workdir"}, {Name: "user"}, {Name: "labels"}, {Name: "annotations"}, {Name: "expose"},
	{Name: "volumes"}, {Name: "stop_signal"}, {Name: "squash"}, {Name: "compression"},
	{Name: "compression_level"}, {Name: "output"}, {Name: "tags"}, {Name: "shell"}, {Name: "onbuild"},
	{Name: "attest"},
}, Blocks: []hcl.BlockHeaderSchema{{Type: "healthcheck"}}}

var healthcheckSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "test", Required: true}, {Name: "interval"}, {Name: "timeout"}, {Name: "start_period"}, {Name: "retries"},
}}

var exposeRe = lazyre.New(`^\d{1,5}(/(tcp|udp|sctp))?$`)
var signalRe = lazyre.New(`^(SIG[A-Z0-9+-]+|\d{1,2})$`)

func (e *evaluator) decodeImage(b *hcl.Block) *Image {
	blocks, a := e.content(b.Body, imageSchema)
	im := &Image{Name: b.Labels[0], DeclRange: b.DefRange}
	for i := range blocks.len() {
		var view hcl.Block
		hb := blocks.at(i, &view)
		if im.Healthcheck != nil {
			e.errorf(hb.DefRange.Ptr(), "Duplicate healthcheck", "An image has one healthcheck block, as a Dockerfile has one HEALTHCHECK.")
			continue
		}
		im.Healthcheck = e.decodeHealthcheck(hb)
	}
	if sh, ok := e.argv(a, "shell"); ok && len(sh) == 0 {
		e.errorf(a.rng("shell"), "Empty shell", "shell needs at least the program, like [\"/bin/bash\", \"-c\"].")
	} else {
		im.Shell = sh
	}
	im.OnBuild = a.strs("onbuild")
	im.From = a.ref("from")
	im.Platforms = a.platforms("platforms")
	e.platformsOnce("image."+im.Name, im.Platforms, b.DefRange.Ptr())
	im.Entrypoint, _ = e.argv(a, "entrypoint")
	im.Cmd, _ = e.argv(a, "cmd")
	im.Env = a.env("env")
	im.Workdir = a.absPath("workdir")
	im.User = e.user(a, "user")
	im.Labels = a.strMap("labels")
	im.Annotations = a.strMap("annotations")
	im.Expose = a.strs("expose")
	for _, p := range im.Expose {
		if !exposeRe.MatchString(p) {
			e.errorf(a.rng("expose"), "Invalid port", "%q is not a port; write it like \"8080\" or \"53/udp\".", p)
		}
	}
	im.Volumes = a.strs("volumes")
	im.StopSignal, _ = a.parsed("stop_signal", func(s string) error {
		if !signalRe.MatchString(s) {
			return fmt.Errorf("%q is not a signal; write it like \"SIGTERM\"", s)
		}
		return nil
	})
	im.Squash = a.boolean("squash")
	im.Compression = a.oneOf("compression", "gzip", "zstd", "estargz", "uncompressed")
	if n, ok := a.integer("compression_level"); ok {
		lo, hi := int64(0), int64(9)
		if im.Compression == "zstd" {
			lo, hi = 1, 22
		}
		if im.Compression == "uncompressed" || n < lo || n > hi {
			e.errorf(a.rng("compression_level"), "Invalid compression level",
				"compression_level %d is out of range for %s compression (%d to %d).", n, orDefault(im.Compression, "gzip"), lo, hi)
		} else {
			v := int(n)
			im.CompressionLevel = &v
		}
	}
	im.Outputs = a.strs("output")
	im.Tags = a.strs("tags")
	im.Attest = a.strs("attest")
	if _, err := attest.ParseSpecs(im.Attest); err != nil {
		e.errorf(a.rng("attest"), "Invalid attest", "%v; write each as on kiln build's command line, like \"type=provenance,mode=max\" or \"type=sbom\".", err)
	}
	return im
}

// decodeHealthcheck reads a healthcheck block: test is a list as in
// docker's config (and compose), or a string, which runs with the
// container's shell as HEALTHCHECK CMD line does.
func (e *evaluator) decodeHealthcheck(b *hcl.Block) *Healthcheck {
	_, a := e.content(b.Body, healthcheckSchema)
	h := &Healthcheck{}
	test, _ := a.strOrStrs("test")
	if at := a.at("test"); at != nil && len(test) == 1 {
		if v, ok := e.value(at.Expr, scopeAll); ok && v.Type() == cty.String {
			test = []string{"CMD-SHELL", test[0]}
		}
	}
	switch {
	case a.at("test") == nil:
	case len(test) == 1 && test[0] == "NONE":
	case len(test) >= 2 && (test[0] == "CMD" || test[0] == "CMD-SHELL"):
	default:
		e.errorf(a.rng("test"), "Invalid healthcheck test",
			"test is [\"CMD\", \"prog\", \"arg\"...], [\"CMD-SHELL\", \"a shell line\"], [\"NONE\"] (no check, also none inherited), or a shell line as a string; got %q.", test)
	}
	h.Test = test
	h.IntervalSec = a.duration("interval")
	h.TimeoutSec = a.duration("timeout")
	h.StartSec = a.duration("start_period")
	if n, ok := a.integer("retries"); ok {
		if n < 0 {
			e.errorf(a.rng("retries"), "Invalid retries", "retries cannot be negative.")
		}
		h.Retries = n
	}
	return h
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// argv reads an exec-form command line, helping users who write the
// Dockerfile shell form.
func (e *evaluator) argv(a attrs, name string) ([]string, bool) {
	at := a.at(name)
	if at == nil {
		return nil, false
	}
	if ss, ok := e.literalStrings(at.Expr); ok {
		return ss, true
	}
	v, ok := e.value(at.Expr, scopeAll)
	if !ok || v.IsNull() {
		return nil, false
	}
	if v.Type() == cty.String {
		e.errorf(a.rng(name), "Incorrect attribute value type",
			"%s is a list of arguments, like [\"make\", \"install\"]; for a shell line write [\"/bin/sh\", \"-c\", %q] (or shell = %q in a run step).", name, v.AsString(), v.AsString())
		return nil, false
	}
	return a.strsOf(at, v)
}

var artifactSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "from"}, {Name: "platforms"}, {Name: "path"}, {Name: "paths"}, {Name: "output"},
}}

func (e *evaluator) decodeArtifact(b *hcl.Block) *Artifact {
	_, a := e.content(b.Body, artifactSchema)
	ar := &Artifact{Name: b.Labels[0], DeclRange: b.DefRange}
	ar.From = a.ref("from")
	ar.Platforms = a.platforms("platforms")
	e.platformsOnce("artifact."+ar.Name, ar.Platforms, b.DefRange.Ptr())
	if a.has("path") && a.has("paths") {
		e.errorf(a.rng("paths"), "Conflicting arguments", "An artifact has path (one) or paths (a list), not both.")
	}
	if p := a.str("path"); p != "" {
		ar.Paths = []string{p}
	}
	if a.has("paths") {
		ar.Paths = a.strs("paths")
	}
	ar.Outputs = a.strs("output")
	return ar
}

var groupSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "targets", Required: true}}}

func (e *evaluator) decodeGroup(b *hcl.Block) *Group {
	_, a := e.content(b.Body, groupSchema)
	g := &Group{Name: b.Labels[0], DeclRange: b.DefRange}
	g.Targets, e.groupRanges[g.Name] = e.targetList(a, "targets")
	return g
}

// checkStageCycles reports stages that depend on themselves through from,
// copy from or mount from. Stage i is node i of the graph walked, its
// edges the references stageEdges lists; decodeStageChunks has worked
// them out already (e.stageOut) when it decoded the stages.
func (e *evaluator) checkStageCycles(cfg *Config) {
	out := e.stageOut
	if len(out) != len(cfg.Stages) {
		index := stageIndex(cfg.Stages)
		out = make([][]int32, len(cfg.Stages))
		for i, st := range cfg.Stages {
			out[i] = stageTargets(st, index)
		}
	}
	cs := findCycles(out)
	if len(cs) == 0 {
		return
	}
	index := stageIndex(cfg.Stages)
	e.reportCycleList(cs, "stages",
		func(n int32) string { return "stage." + cfg.Stages[n].Name },
		func(n, k int32) graphEdge {
			var ed graphEdge
			stageEdges(cfg.Stages[n], index, func(_ int32, r *Ref, via string) bool {
				if k == 0 {
					ed = graphEdge{via: via, rng: r.Range}
					return false
				}
				k--
				return true
			})
			return ed
		})
}

// stageIndex numbers stages by name. Declared stage names are distinct:
// declare leaves a duplicate out.
func stageIndex(stages []*Stage) map[string]int32 {
	index := make(map[string]int32, len(stages))
	for i, st := range stages {
		if _, ok := index[st.Name]; !ok {
			index[st.Name] = int32(i)
		}
	}
	return index
}

// stageEdges calls fn with each reference of st to a stage in index, its
// number and how it is made, in the order of st's fields and steps, until
// fn returns false. A reference to a name that is not a stage (reported
// when decoding) cannot be part of a cycle and is left out.
func stageEdges(st *Stage, index map[string]int32, fn func(to int32, r *Ref, via string) bool) {
	edge := func(r *Ref, via string) bool {
		if r.Kind != "stage" {
			return true
		}
		to, ok := index[r.Name]
		return !ok || fn(to, r, via)
	}
	if !edge(&st.From, "from") {
		return
	}
	for _, s := range st.Steps {
		if !edge(&s.From, "copy from") {
			return
		}
		for _, m := range s.Mounts {
			if !edge(&m.From, "mount from") {
				return
			}
		}
	}
}

// stageTargets lists the stages st refers to, by number (stageEdges).
func stageTargets(st *Stage, index map[string]int32) []int32 {
	var out []int32
	stageEdges(st, index, func(to int32, _ *Ref, _ string) bool {
		out = append(out, to)
		return true
	})
	return out
}

// checkTargets checks group members and the default targets, and cycles
// between groups. A target is named by its plain name (an image, artifact
// or group) or by its address (image.x, artifact.x, group.x, stage.x).
func (e *evaluator) checkTargets(cfg *Config) {
	known := map[string]bool{}
	var names []string
	for _, i := range cfg.Images {
		known[i.Name], known["image."+i.Name] = true, true
		names = append(names, i.Name)
	}
	for _, a := range cfg.Artifacts {
		known[a.Name], known["artifact."+a.Name] = true, true
		names = append(names, a.Name)
	}
	groups := map[string]*Group{}
	for _, g := range cfg.Groups {
		known[g.Name], known["group."+g.Name] = true, true
		groups[g.Name] = g
		names = append(names, g.Name)
	}
	// Stages are known by address only; most files name none as a
	// target, so their names are gathered for the first that does.
	var stages map[string]bool
	isStage := func(t string) bool {
		n, ok := strings.CutPrefix(t, "stage.")
		if !ok {
			return false
		}
		if stages == nil {
			stages = make(map[string]bool, len(cfg.Stages))
			for _, s := range cfg.Stages {
				stages[s.Name] = true
			}
		}
		return stages[n]
	}
	sort.Strings(names)
	check := func(list []string, rngs []hcl.Range) {
		for i, t := range list {
			if !known[t] && !isStage(t) {
				r := rngs[i]
				e.errorf(&r, "Unknown target",
					"There is no target %q. Targets are images, artifacts and groups (%s), or stage.NAME; fix the name or declare it.", t, listOrNone(names))
			}
		}
	}
	g := newGraph()
	for _, gr := range cfg.Groups {
		at := e.groupRanges[gr.Name]
		check(gr.Targets, at)
		g.addNode(gr.Name)
		for i, t := range gr.Targets {
			n := strings.TrimPrefix(t, "group.")
			if groups[n] != nil {
				g.addEdge(gr.Name, n, "targets", at[i])
			}
		}
	}
	if cfg.Project.Default != nil {
		check(cfg.Project.Default, e.defaultRanges)
	}
	e.reportCycles(g, "groups", func(n string) string { return "group." + n })
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none are declared"
	}
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + ", ..."
	}
	return strings.Join(names, ", ")
}

// targetList reads a list of target names with the range of each, so an
// unknown target is reported where it is written.
func (e *evaluator) targetList(a attrs, name string) ([]string, []hcl.Range) {
	names := a.strs(name)
	if names == nil {
		return nil, nil
	}
	rngs := make([]hcl.Range, len(names))
	elems, ds := hcl.ExprList(a.at(name).Expr)
	for i := range rngs {
		if !ds.HasErrors() && len(elems) == len(names) {
			rngs[i] = elems[i].Range()
		} else {
			rngs[i] = a.at(name).Expr.Range()
		}
	}
	return names, rngs
}
