package dockerimport

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// run translates RUN: its command line, the ARGs BuildKit puts in its
// environment, its mounts, network and security.
func (sc *stageConv) run(cmd *instructions.RunCommand) {
	c := sc.c
	// Expanding parses the --mount values, with the stage's ENV and ARGs.
	if err := cmd.Expand(sc.expander); err != nil {
		sc.note("%v; step left out", err)
		return
	}
	b := newBlock("run")
	if !sc.runCommand(b, cmd.ShellDependantCmdLine) {
		return
	}
	defer func() {
		// Copies a file bind needs go before the step, removes after.
		for _, p := range sc.pre {
			sc.blk.items = append(sc.blk.items, item{blk: p})
		}
		sc.blk.items = append(sc.blk.items, item{blk: b})
		for _, p := range sc.post {
			sc.blk.items = append(sc.blk.items, item{blk: p})
		}
		sc.pre, sc.post = nil, nil
	}()
	// Build args are in a RUN's environment, ENV of the same name wins.
	var keys []string
	var vals []expr
	for _, k := range sc.argSeq {
		if _, ok := sc.cfg.env[k]; ok || !envNameRe.MatchString(k) {
			continue
		}
		keys = append(keys, k)
		vals = append(vals, c.quote(sc.args[k]))
	}
	if len(keys) > 0 {
		b.set("env", c.object(keys, vals))
	}
	for _, f := range cmd.FlagsUsed {
		switch f {
		case "mount", "network", "security":
		case "device":
			sc.note("--device is not translated: kiln steps see no host devices")
		default:
			sc.note("--%s is not translated", f)
		}
	}
	switch instructions.GetNetwork(cmd) {
	case instructions.NetworkHost:
		b.set("fixed_output", "true")
		b.set("network", `"host"`)
		sc.note("--network=host becomes fixed_output = true with network = \"host\": kiln lets only a step whose output is pinned use the network; run kiln lock to pin it")
	case instructions.NetworkNone:
	default:
		if sc.firstNetRun == 0 {
			sc.firstNetRun = sc.line
		}
	}
	if instructions.GetSecurity(cmd) == "insecure" {
		b.set("security", `"insecure"`)
	}
	for _, m := range instructions.GetMounts(cmd) {
		sc.mount(b, m)
	}
}

// runCommand sets command or shell; false when the line cannot be
// translated (noted).
func (sc *stageConv) runCommand(b *block, cl instructions.ShellDependantCmdLine) bool {
	c := sc.c
	if !cl.PrependShell {
		if len(cl.Files) > 0 {
			sc.note("a heredoc in the exec form is not translated; step left out")
			return false
		}
		if len(cl.CmdLine) == 0 {
			sc.note("an empty command is not translated; step left out")
			return false
		}
		b.set("command", c.list(cl.CmdLine))
		return true
	}
	line := strings.Join(cl.CmdLine, " ")
	if len(cl.Files) > 0 {
		// RUN <<EOF runs the heredoc as the script; other heredoc uses
		// (feeding a command's stdin, several files) are not translated.
		f := cl.Files[0]
		if len(cl.Files) > 1 || !isHeredocOnly(line, f.Name) || strings.HasPrefix(f.Data, "#!") {
			sc.note("this heredoc form is not translated (only RUN <<EOF with a shell script is); step left out")
			return false
		}
		line = f.Data
		if f.Chomp {
			line = chompTabs(line)
		}
	}
	if !sameShell(sc.cfg.shell, sc.runShell) {
		b.set("command", c.list(append(sc.shell(), line)))
	} else {
		// Not expanded: the shell does that when the step runs, from
		// the env this step is given.
		b.set("shell", script(line))
	}
	return true
}

func isHeredocOnly(line, name string) bool {
	w := strings.TrimSpace(line)
	for _, p := range []string{"<<-", "<<"} {
		if rest, ok := strings.CutPrefix(w, p); ok {
			rest = strings.Trim(rest, `"'`)
			return rest == name
		}
	}
	return false
}

func chompTabs(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t")
	}
	return strings.Join(lines, "\n")
}

// mount translates one --mount.
func (sc *stageConv) mount(run *block, m *instructions.Mount) {
	c := sc.c
	if m.Target != "" && !path.IsAbs(m.Target) && !strings.HasPrefix(m.Target, string(markOpen)) {
		// BuildKit reads a relative target from the working directory.
		m.Target = path.Join("/", sc.cfg.workdir, m.Target)
	}
	if m.UID != nil || m.GID != nil {
		sc.note("--mount uid/gid are not translated: kiln's %s mounts belong to root", m.Type)
	}
	switch m.Type {
	case instructions.MountTypeCache:
		b := run.add("mount", "cache")
		b.set("target", c.quote(m.Target))
		if m.CacheID != "" && m.CacheID != m.Target {
			b.set("id", c.quote(m.CacheID))
		}
		if m.CacheSharing != "" && m.CacheSharing != instructions.MountSharingShared {
			b.set("sharing", expr(quoteLiteral(string(m.CacheSharing))))
		}
		if m.Mode != nil {
			b.set("mode", expr(quoteLiteral(fmt.Sprintf("%04o", *m.Mode))))
		}
		if m.From != "" {
			sc.note("--mount=type=cache,from=%s is not translated: the cache starts empty", m.From)
		}
	case instructions.MountTypeSecret:
		b := run.add("mount", "secret")
		id := m.CacheID
		if id == "" {
			id = lastElem(m.Target)
		}
		b.set("id", c.quote(id))
		if m.Env != nil {
			b.set("env", c.quote(*m.Env))
		}
		if m.Target != "" || m.Env == nil {
			t := m.Target
			if t == "" {
				t = "/run/secrets/" + id
			}
			b.set("target", c.quote(t))
		}
		if m.Required {
			b.set("required", "true")
		}
		if m.Mode != nil {
			b.set("mode", expr(quoteLiteral(fmt.Sprintf("%04o", *m.Mode))))
		}
	case instructions.MountTypeTmpfs:
		b := run.add("mount", "tmpfs")
		b.set("target", c.quote(m.Target))
		if m.SizeLimit > 0 {
			b.set("size", expr(quoteLiteral(strconv.FormatInt(m.SizeLimit, 10))))
		}
	case instructions.MountTypeBind:
		if m.From == "" && c.opts.IsFile != nil && c.opts.IsFile(path.Clean(strings.TrimPrefix(m.Source, "/"))) {
			sc.bindFile(m)
			return
		}
		b := run.add("mount", "input")
		b.set("target", c.quote(m.Target))
		src := strings.TrimPrefix(m.Source, "./")
		if m.From == "" {
			// A bind of the context: only what it names is hashed.
			var include []string
			if p := strings.Trim(src, "/"); p != "" && p != "." {
				include = []string{p}
			}
			b.set("from", expr(c.contextSource(include)))
		} else {
			b.set("from", expr(sc.stateRef(m.From)))
		}
		if src != "" && src != "." && src != "/" {
			b.set("source", c.quote(src))
		}
		if !m.ReadOnly {
			b.set("readwrite", "true")
		}
	case instructions.MountTypeSSH:
		b := run.add("mount", "ssh")
		if m.CacheID != "" && m.CacheID != "default" {
			b.set("id", c.quote(m.CacheID))
		}
		if m.Target != "" {
			b.set("target", c.quote(m.Target))
		}
		if !m.Required {
			// BuildKit runs the step without an agent when none is given;
			// kiln's mount is required unless told otherwise.
			b.set("required", "false")
		}
		if m.Mode != nil && *m.Mode != 0o600 {
			sc.note("--mount=type=ssh,mode=%04o is not translated: kiln's agent socket has its own mode", *m.Mode)
		}
	default:
		sc.note("--mount=type=%s is not translated", m.Type)
	}
}

// bindFile stands in for a bind of one file of the context, which
// kiln's folder-only input mounts cannot do: the file is copied to the
// target before the step and removed after it, so that the stage ends
// as a bind would leave it.
func (sc *stageConv) bindFile(m *instructions.Mount) {
	c := sc.c
	src := path.Clean(strings.TrimPrefix(m.Source, "/"))
	cp := newBlock("copy")
	cp.set("from", expr(c.contextSource([]string{src})))
	cp.set("src", c.list([]string{src}))
	cp.set("dest", c.quote(m.Target))
	rm := newBlock("remove")
	rm.set("path", c.quote(m.Target))
	sc.pre = append(sc.pre, cp)
	sc.post = append(sc.post, rm)
	sc.note("--mount=type=bind of the file %s: kiln's input mounts take folders, so it is copied to %s before the step and removed after it", src, m.Target)
}

func lastElem(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// stateRef is what --from names: an earlier stage, a named context, or
// an image.
func (sc *stageConv) stateRef(name string) string {
	c := sc.c
	if j, ok := c.stageIndex(name, sc.idx); ok {
		if !slices.Contains(sc.deps, j) {
			sc.deps = append(sc.deps, j)
		}
		return "stage." + c.out[j].name
	}
	if spec, ok := c.contextFor(name); ok {
		addr, err := c.namedContext(name, spec)
		if err == nil {
			return addr
		}
		sc.note("%v; taken as an image reference", err)
	}
	if lit, changed := c.literal(name); changed {
		sc.note("%q is fixed to %q: a source is pinned by kiln lock, so its reference cannot be a variable", name, lit)
		name = lit
	}
	return c.imageSource(name)
}
