package dockerimport

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/internal/lazyre"
)

// config is what a stage's instructions set that FROM <stage> inherits
// and that the target stage's image carries: Docker's image config.
type config struct {
	envKeys     []string
	env         map[string]string
	workdir     string
	user        string
	shell       []string // nil: /bin/sh -c
	entrypoint  []string
	cmd         []string
	labels      map[string]string
	expose      []string
	volumes     []string
	stopSignal  string
	healthcheck *dockerspec.HealthcheckConfig
	// onbuild are this stage's own ONBUILD triggers: FROM consumes a
	// parent's, so they never carry over.
	onbuild []string
	// onImage: the stage is built on an image whose config this file
	// does not know (its Env, for one).
	onImage bool
}

func (cf *config) clone() config {
	out := *cf
	out.envKeys = slices.Clone(cf.envKeys)
	out.env = maps.Clone(cf.env)
	out.labels = maps.Clone(cf.labels)
	out.expose = slices.Clone(cf.expose)
	out.volumes = slices.Clone(cf.volumes)
	out.onbuild = slices.Clone(cf.onbuild)
	return out
}

func (cf *config) setEnv(k, v string) {
	if cf.env == nil {
		cf.env = map[string]string{}
	}
	if _, ok := cf.env[k]; !ok {
		cf.envKeys = append(cf.envKeys, k)
	}
	cf.env[k] = v
}

// stageConv is one Dockerfile stage being translated.
type stageConv struct {
	c      *converter
	idx    int
	name   string
	blk    *block
	cfg    config
	args   map[string]string // ARGs in scope: name -> word (marker or literal)
	argSeq []string
	cmdSet bool
	deps   []int // stages this one uses

	firstNetRun int // first RUN that docker build would give a network

	line  int // the instruction being translated, for notes
	instr string

	pre, post []*block // steps around the RUN being translated

	// runShell is the shell the stage's shell-form RUN lines are written
	// for (kiln's stage shell, own or inherited; nil: /bin/sh -c): a RUN
	// under another SHELL is written as a command list.
	runShell []string
}

// Get and Keys make the stage a shell.EnvGetter: ENV wins over ARG, as
// in BuildKit.
func (sc *stageConv) Get(k string) (string, bool) {
	if v, ok := sc.cfg.env[k]; ok {
		return v, true
	}
	if v, ok := sc.args[k]; ok {
		return v, true
	}
	if k == "PATH" {
		// Without its own ENV PATH a stage has the default PATH, or its
		// base image's, which the importer cannot see.
		if sc.cfg.onImage {
			sc.c.note(sc.line, sc.instr, "$PATH is taken as the default PATH (%s); the base image may set another", DefaultPath)
		}
		return DefaultPath, true
	}
	return "", false
}

func (sc *stageConv) Keys() []string {
	keys := append(slices.Clone(sc.cfg.envKeys), sc.argSeq...)
	return append(keys, "PATH")
}

func (c *converter) convertStage(i int) {
	st := c.stages[i]
	sc := &stageConv{c: c, idx: i, args: map[string]string{}}
	c.out[i] = sc
	sc.name = c.stageName(i)
	sc.blk = newBlock("stage", sc.name)
	line := 0
	if len(st.Location) > 0 {
		line = st.Location[0].Start.Line
	}
	sc.line, sc.instr = line, "FROM"
	triggers := sc.from(st, line)
	cmds := append(triggers, st.Commands...)
	sc.chooseShell(cmds)
	for i, cmd := range cmds {
		sc.line = lineOf(cmd)
		sc.instr = strings.ToUpper(cmd.Name())
		if i < len(triggers) {
			sc.instr = "ONBUILD " + sc.instr
			sc.blk.comment(fmt.Sprintf("line %d: ONBUILD %s of stage %s, run first here as BuildKit does", sc.line, strings.ToUpper(cmd.Name()), c.out[sc.deps[0]].name))
		}
		sc.command(cmd)
	}
	sc.line, sc.instr = 0, ""
}

// chooseShell sets the stage's shell attribute: the SHELL its
// shell-form RUN lines all run under, when that differs from the shell
// the stage inherits. kiln's stage shell applies to every run step, so
// a stage whose RUN lines run under two shells keeps the inherited one
// and writes the others as command lists.
func (sc *stageConv) chooseShell(cmds []instructions.Command) {
	inherited := sc.runShell
	cur := sc.cfg.shell
	var used [][]string
	for _, cmd := range cmds {
		switch cmd := cmd.(type) {
		case *instructions.ShellCommand:
			cur = cmd.Shell
		case *instructions.RunCommand:
			if cmd.PrependShell {
				used = append(used, cur)
			}
		}
	}
	if len(used) == 0 {
		// No RUN to go by: the stage's last SHELL, for the stages built
		// on it.
		used = append(used, cur)
	}
	for _, u := range used[1:] {
		if !sameShell(u, used[0]) {
			return
		}
	}
	if !sameShell(used[0], inherited) {
		sc.runShell = slices.Clone(used[0])
		if sc.runShell == nil {
			sc.runShell = []string{"/bin/sh", "-c"}
		}
		sc.blk.set("shell", sc.c.list(sc.runShell))
	}
}

// sameShell compares shells, nil being /bin/sh -c.
func sameShell(a, b []string) bool {
	def := []string{"/bin/sh", "-c"}
	if a == nil {
		a = def
	}
	if b == nil {
		b = def
	}
	return slices.Equal(a, b)
}

// stageName is the block label of stage i: its Dockerfile name made an
// identifier, or stageN; unique.
func (c *converter) stageName(i int) string {
	base := fmt.Sprintf("stage%d", i)
	if n := c.stages[i].Name; n != "" {
		base = label(n)
	}
	n := base
	for k := 2; ; k++ {
		taken := false
		for j := 0; j < i; j++ {
			if c.out[j].name == n {
				taken = true
			}
		}
		if !taken {
			return n
		}
		n = fmt.Sprintf("%s_%d", base, k)
	}
}

// stageIndex finds an earlier stage by name or index, as --from and FROM
// name them.
func (c *converter) stageIndex(name string, before int) (int, bool) {
	for j := 0; j < before; j++ {
		if c.stages[j].Name != "" && strings.EqualFold(c.stages[j].Name, name) {
			return j, true
		}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < before {
		return n, true
	}
	return 0, false
}

// from translates FROM: another stage (inheriting its config), a named
// context, scratch, or an image source. It returns the ONBUILD triggers
// of a parent stage, which BuildKit runs first in this one.
func (sc *stageConv) from(st instructions.Stage, line int) []instructions.Command {
	c := sc.c
	base, err := c.expand(st.BaseName, mapEnv(c.globalEnv()), line, "FROM")
	if err != nil {
		base = st.BaseName
	}
	if base != st.BaseName && strings.Contains(st.BaseName, "$") {
		c.note(line, "FROM", "%q is fixed to %q: a source is pinned by kiln lock, so its reference cannot be a variable", st.BaseName, base)
	}
	if st.Platform != "" {
		p, _ := c.expand(st.Platform, mapEnv(c.globalEnv()), line, "FROM")
		if p != c.opts.Platform {
			sc.blk.set("platform", expr(quoteLiteral(p)))
		}
	}
	switch j, ok := c.stageIndex(base, sc.idx); {
	case ok:
		parent := c.out[j]
		sc.deps = append(sc.deps, j)
		sc.cfg = parent.cfg.clone()
		sc.cfg.onbuild = nil
		// kiln's from = stage.X carries X's env, workdir, user and shell
		// over, as FROM X does: nothing to restate.
		sc.runShell = slices.Clone(parent.runShell)
		sc.blk.set("from", expr("stage."+parent.name))
		return sc.triggers(j)
	}
	if spec, ok := c.contextFor(base); ok {
		addr, err := c.namedContext(base, spec)
		if err != nil {
			c.note(line, "FROM", "%v; built on scratch instead", err)
			sc.blk.set("from", `"scratch"`)
			return nil
		}
		sc.cfg.onImage = !strings.HasPrefix(addr, "source.local.")
		sc.blk.set("from", expr(addr))
		return nil
	}
	if strings.EqualFold(base, "scratch") {
		sc.blk.set("from", `"scratch"`)
		return nil
	}
	sc.cfg.onImage = true
	sc.blk.set("from", expr(c.imageSource(base)))
	return nil
}

// triggers parses the ONBUILD lines of stage j, as BuildKit does for a
// stage built on it; one that does not parse is noted and left out.
func (sc *stageConv) triggers(j int) []instructions.Command {
	var out []instructions.Command
	for _, cmd := range sc.c.stages[j].Commands {
		ob, ok := cmd.(*instructions.OnbuildCommand)
		if !ok {
			continue
		}
		line := lineOf(ob)
		res, err := parser.Parse(strings.NewReader(ob.Expression))
		if err == nil && len(res.AST.Children) != 1 {
			err = fmt.Errorf("a trigger is one instruction")
		}
		var ic instructions.Command
		if err == nil {
			node := res.AST.Children[0]
			// Notes about the trigger name the ONBUILD line.
			node.StartLine, node.EndLine = line, line
			ic, err = instructions.ParseCommand(node)
		}
		if err != nil {
			sc.c.note(line, "ONBUILD", "the trigger %q does not parse (%v): it is left out of stage %s, built on this one", ob.Expression, err, sc.name)
			continue
		}
		out = append(out, ic)
	}
	return out
}

func (sc *stageConv) envObject(keys []string) expr {
	vals := make([]expr, len(keys))
	for i, k := range keys {
		vals[i] = sc.c.quote(sc.cfg.env[k])
	}
	return sc.c.object(keys, vals)
}

func (sc *stageConv) note(format string, args ...any) {
	sc.c.note(sc.line, sc.instr, format, args...)
}

// word expands a word with the stage's ENV and ARGs.
func (sc *stageConv) word(w string) string {
	c := sc.c
	out, _ := c.expand(w, sc, sc.line, sc.instr)
	if !strings.ContainsRune(out, markOpen) && !strings.ContainsRune(out, markClose) {
		return out
	}
	// A modifier on an ARG (${V#v}, ${V:-x}, ${V%?}) works on the value,
	// which build.hcl only knows when it is evaluated: when it changes
	// the result for the defaults, expand with the defaults, fixed.
	env := mapEnv{}
	for k, v := range sc.args {
		env[k], _ = c.literal(v)
	}
	for k, v := range sc.cfg.env {
		env[k], _ = c.literal(v)
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = DefaultPath
	}
	fixed, _, err := c.lex.ProcessWord(w, env)
	if lit, _ := c.literal(out); err == nil && (lit != fixed || !c.wellFormed(out)) {
		sc.note("%q applies a modifier to an ARG; it is expanded with the ARG defaults to %q, fixed", w, fixed)
		return fixed
	}
	return out
}

func (sc *stageConv) expander(w string) (string, error) { return sc.word(w), nil }

func (sc *stageConv) command(cmd instructions.Command) {
	switch cmd := cmd.(type) {
	case *instructions.EnvCommand:
		sc.env(cmd)
	case *instructions.ArgCommand:
		sc.arg(cmd)
	case *instructions.RunCommand:
		sc.run(cmd)
	case *instructions.CopyCommand:
		sc.copyCmd(cmd)
	case *instructions.AddCommand:
		sc.add(cmd)
	case *instructions.WorkdirCommand:
		p := sc.word(cmd.Path)
		if !path.IsAbs(p) && !strings.HasPrefix(p, string(markOpen)) {
			p = path.Join("/", sc.cfg.workdir, p)
		}
		sc.cfg.workdir = p
		sc.blk.add("workdir").set("path", sc.c.quote(p))
	case *instructions.UserCommand:
		u := sc.word(cmd.User)
		sc.cfg.user = u
		sc.blk.add("user").set("name", sc.c.quote(u))
	case *instructions.ExposeCommand:
		sc.expose(cmd)
	case *instructions.LabelCommand:
		if err := cmd.Expand(sc.expander); err == nil {
			for _, kv := range cmd.Labels {
				sc.label(kv.Key, kv.Value)
			}
		}
	case *instructions.MaintainerCommand:
		sc.label("maintainer", cmd.Maintainer)
	case *instructions.EntrypointCommand:
		sc.cfg.entrypoint = sc.cmdLine(cmd.ShellDependantCmdLine)
		if !sc.cmdSet {
			// As docker build: ENTRYPOINT drops a CMD this stage did not set.
			sc.cfg.cmd = nil
		}
	case *instructions.CmdCommand:
		sc.cfg.cmd = sc.cmdLine(cmd.ShellDependantCmdLine)
		sc.cmdSet = true
	case *instructions.VolumeCommand:
		for _, v := range cmd.Volumes {
			v = sc.word(v)
			if !slices.Contains(sc.cfg.volumes, v) {
				sc.cfg.volumes = append(sc.cfg.volumes, v)
			}
		}
	case *instructions.StopSignalCommand:
		s := sc.word(cmd.Signal)
		if signalRe.MatchString(s) {
			sc.cfg.stopSignal = s
		} else {
			sc.note("%q is not a signal kiln accepts (write SIGTERM or a number); left out", s)
		}
	case *instructions.ShellCommand:
		sc.cfg.shell = slices.Clone(cmd.Shell)
	case *instructions.HealthCheckCommand:
		sc.healthcheck(cmd.Health)
	case *instructions.OnbuildCommand:
		sc.cfg.onbuild = append(sc.cfg.onbuild, cmd.Expression)
	default:
		sc.note("not translated: kiln import does not know this instruction")
	}
}

var signalRe = lazyre.New(`^(SIG[A-Z0-9+-]+|\d{1,2})$`)

// healthcheck keeps HEALTHCHECK for the image; as in docker build, it
// replaces an earlier one whole.
func (sc *stageConv) healthcheck(h *dockerspec.HealthcheckConfig) {
	if h == nil {
		return
	}
	hc := *h
	hc.Test = slices.Clone(h.Test)
	for _, d := range []struct {
		name string
		v    *time.Duration
	}{{"--interval", &hc.Interval}, {"--timeout", &hc.Timeout}, {"--start-period", &hc.StartPeriod}} {
		if *d.v != 0 && (*d.v%time.Second != 0 || *d.v > maxHealthDuration) {
			sc.note("%s=%s is not translated: kiln takes whole seconds up to a week; docker's default is used", d.name, *d.v)
			*d.v = 0
		}
	}
	if hc.StartInterval != 0 {
		sc.note("--start-interval=%s is not translated: kiln's healthcheck has no start_interval; docker's default is used", hc.StartInterval)
		hc.StartInterval = 0
	}
	sc.cfg.healthcheck = &hc
}

const maxHealthDuration = 7 * 24 * time.Hour

// duration writes a whole number of seconds in the largest unit that
// keeps it whole, as a Dockerfile would say it.
func duration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

func (sc *stageConv) label(k, v string) {
	if sc.cfg.labels == nil {
		sc.cfg.labels = map[string]string{}
	}
	sc.cfg.labels[k] = v
}

// env translates ENV into an env step, and keeps the values for the
// image and for later expansion.
func (sc *stageConv) env(cmd *instructions.EnvCommand) {
	var keys []string
	for _, kv := range cmd.Env {
		// Each pair sees the ones before it, as BuildKit expands them.
		k := sc.word(kv.Key)
		v := sc.word(kv.Value)
		if !envNameRe.MatchString(k) {
			sc.note("%q cannot be an environment variable name in build.hcl; left out", k)
			continue
		}
		sc.cfg.setEnv(k, v)
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	b := sc.blk.add("env")
	for _, k := range keys {
		b.set(k, sc.c.quote(sc.cfg.env[k]))
	}
}

var envNameRe = lazyre.New(`^[A-Za-z_][A-Za-z0-9_]*$`)

// arg brings ARGs into scope: variables, or the platform's values for
// BuildKit's automatic platform ARGs.
func (sc *stageConv) arg(cmd *instructions.ArgCommand) {
	c := sc.c
	for _, kv := range cmd.Args {
		if v, ok := c.platform[kv.Key]; ok {
			sc.setArg(kv.Key, v)
			continue
		}
		def, has := "", kv.Value != nil
		if has {
			def = sc.word(*kv.Value)
			if lit, changed := c.literal(def); changed {
				c.note(sc.line, "ARG", "the default of %s refers to other ARGs; build.hcl defaults are constants, so it is %q", kv.Key, lit)
				def = lit
			}
		} else if g, ok := c.globals[kv.Key]; ok {
			def, has = g, true
		}
		v := c.declare(kv.Key, def, has, sc.line)
		sc.setArg(kv.Key, c.mark("var."+v.hclName, v.def))
	}
}

func (sc *stageConv) setArg(k, v string) {
	if _, ok := sc.args[k]; !ok {
		sc.argSeq = append(sc.argSeq, k)
	}
	sc.args[k] = v
}

// cmdLine is CMD's or ENTRYPOINT's exec form; the shell form runs under
// the stage's SHELL.
func (sc *stageConv) cmdLine(cl instructions.ShellDependantCmdLine) []string {
	if !cl.PrependShell {
		return slices.Clone(cl.CmdLine)
	}
	return append(sc.shell(), strings.Join(cl.CmdLine, " "))
}

func (sc *stageConv) shell() []string {
	if sc.cfg.shell != nil {
		return slices.Clone(sc.cfg.shell)
	}
	return []string{"/bin/sh", "-c"}
}

var portRe = lazyre.New(`^(\d{1,5})(?:-(\d{1,5}))?(/(?:tcp|udp|sctp))?$`)

// expose takes EXPOSE's ports; a range is listed port by port, as docker
// build writes it into the image config.
func (sc *stageConv) expose(cmd *instructions.ExposeCommand) {
	for _, p := range cmd.Ports {
		p = strings.ToLower(sc.word(p))
		m := portRe.FindStringSubmatch(p)
		if m == nil {
			sc.note("%q is not a port kiln accepts (write 8080 or 53/udp); left out", p)
			continue
		}
		lo, _ := strconv.Atoi(m[1])
		hi := lo
		if m[2] != "" {
			hi, _ = strconv.Atoi(m[2])
		}
		if hi < lo || hi-lo > 1024 || hi > 65535 {
			sc.note("port range %q is not translated (more than 1024 ports, or not a range); left out", p)
			continue
		}
		for n := lo; n <= hi; n++ {
			port := strconv.Itoa(n) + m[3]
			if !slices.Contains(sc.cfg.expose, port) {
				sc.cfg.expose = append(sc.cfg.expose, port)
			}
		}
	}
}

// image is the target stage's config as an image block.
func (sc *stageConv) image(name string) *block {
	c := sc.c
	b := newBlock("image", name)
	b.set("from", expr("stage."+sc.name))
	cf := sc.cfg
	if cf.entrypoint != nil {
		b.set("entrypoint", c.list(cf.entrypoint))
	}
	if cf.cmd != nil {
		b.set("cmd", c.list(cf.cmd))
	}
	if len(cf.envKeys) > 0 {
		b.set("env", sc.envObject(slices.Sorted(slices.Values(cf.envKeys))))
	}
	if cf.workdir != "" {
		b.set("workdir", c.quote(cf.workdir))
	}
	if cf.user != "" {
		b.set("user", c.quote(cf.user))
	}
	if len(cf.labels) > 0 {
		keys := slices.Sorted(maps.Keys(cf.labels))
		vals := make([]expr, len(keys))
		for i, k := range keys {
			vals[i] = c.quote(cf.labels[k])
		}
		b.set("labels", c.object(keys, vals))
	}
	if len(cf.expose) > 0 {
		b.set("expose", c.list(cf.expose))
	}
	if len(cf.volumes) > 0 {
		b.set("volumes", c.list(cf.volumes))
	}
	if cf.stopSignal != "" {
		b.set("stop_signal", c.quote(cf.stopSignal))
	}
	if cf.shell != nil {
		b.set("shell", c.list(cf.shell))
	}
	if len(cf.onbuild) > 0 {
		// Not expanded: docker build expands a trigger when it runs.
		b.set("onbuild", literalList(cf.onbuild))
	}
	if h := cf.healthcheck; h != nil {
		hb := b.add("healthcheck")
		switch {
		case len(h.Test) == 2 && h.Test[0] == "CMD-SHELL":
			hb.set("test", expr(quoteLiteral(h.Test[1])))
		default:
			hb.set("test", literalList(h.Test))
		}
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start_period", h.StartPeriod}} {
			if d.v > 0 {
				hb.set(d.name, expr(quoteLiteral(duration(d.v))))
			}
		}
		if h.Retries > 0 {
			hb.set("retries", expr(strconv.Itoa(h.Retries)))
		}
	}
	return b
}
