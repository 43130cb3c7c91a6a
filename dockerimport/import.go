package dockerimport

import (
	"bytes"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Options say how to read the Dockerfile and where its inputs are.
type Options struct {
	// Filename names the Dockerfile in notes and in the header comment.
	Filename string
	// Target is the stage to build (docker build --target); empty means
	// the last stage.
	Target string
	// Context is the build context (docker build's PATH) as written in
	// the output: a folder relative to the build file's folder. Default ".".
	Context string
	// Contexts are named build contexts (docker buildx build
	// --build-context NAME=VALUE), replacing the image or stage NAME in
	// FROM, COPY --from and RUN --mount from=: "oci-layout://PATH[:TAG]"
	// or "oci-layout://PATH@DIGEST", "docker-image://REF", or a folder.
	Contexts map[string]string
	// IsFile, when set, says whether a path of the build context is a
	// regular file: kiln's input mounts take folders, so a RUN
	// --mount=type=bind of a file becomes a copy before the step and a
	// remove after it. Without it a bind is taken to be of a folder.
	IsFile func(contextPath string) bool
	// Platform is the platform written into the kiln block and given to
	// TARGETPLATFORM, TARGETOS, TARGETARCH and their BUILD* twins.
	// Default "linux/amd64".
	Platform string
}

// Note is one thing the translation could not carry over, or carried over
// with a difference the reader should know of.
type Note struct {
	Line        int    // the instruction's first line in the Dockerfile
	Instruction string // RUN, COPY, HEALTHCHECK, ...
	Message     string

	stage int // index of the stage it concerns; -1 for none
}

func (n Note) String() string {
	return fmt.Sprintf("line %d: %s: %s", n.Line, n.Instruction, n.Message)
}

// Result is the build.hcl text and the notes about it, in line order.
type Result struct {
	HCL   []byte
	Notes []Note
	// Image is the name of the image block written for the target.
	Image string
}

// DefaultPath is the PATH BuildKit gives a stage whose base sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxInput bounds the Dockerfile read, so that a generated file cannot
// make the importer build an unbounded output.
const maxInput = 4 << 20

// Convert translates a Dockerfile into build.hcl. An error means the
// Dockerfile itself is wrong (BuildKit would refuse it too) or the
// options are; everything else comes back as notes.
func Convert(dockerfile []byte, opts Options) (*Result, error) {
	if opts.Filename == "" {
		opts.Filename = "Dockerfile"
	}
	if opts.Context == "" {
		opts.Context = "."
	}
	if opts.Platform == "" {
		opts.Platform = "linux/amd64"
	}
	if len(dockerfile) > maxInput {
		return nil, fmt.Errorf("%s is %d bytes; kiln import reads at most %d", opts.Filename, len(dockerfile), maxInput)
	}
	if i := bytes.IndexAny(dockerfile, string([]rune{markOpen, markClose})); i >= 0 {
		return nil, fmt.Errorf("%s:%d: holds the private-use character U+%04X, which kiln import uses internally; remove it",
			opts.Filename, bytes.Count(dockerfile[:i], []byte("\n"))+1, []rune(string(dockerfile[i:]))[0])
	}
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", opts.Filename, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", opts.Filename, err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s has no FROM: there is nothing to build", opts.Filename)
	}
	c := &converter{
		opts:      opts,
		lex:       shell.NewLex(res.EscapeToken),
		stages:    stages,
		sources:   map[string]string{},
		srcUsers:  map[*block][]int{},
		srcByAddr: map[string]*block{},
		names:     map[string]bool{},
		varIndex:  map[string]*variable{},
		platform:  platformArgs(opts.Platform),
		cur:       -1,
	}
	target, err := c.targetIndex()
	if err != nil {
		return nil, err
	}
	c.global(metaArgs)
	c.out = make([]*stageConv, len(stages))
	for i := range stages {
		c.cur = i
		c.convertStage(i)
	}
	c.cur = -1
	return c.render(target), nil
}

// converter holds the whole translation: the blocks written so far and
// what later stages need to know about earlier ones.
type converter struct {
	opts   Options
	lex    *shell.Lex
	stages []instructions.Stage
	out    []*stageConv

	srcBlocks []*block
	srcUsers  map[*block][]int  // the stages that use a source; -1 for none
	sources   map[string]string // source key -> address
	srcByAddr map[string]*block
	names     map[string]bool // source TYPE.NAME taken

	vars     []*variable
	varIndex map[string]*variable
	globals  map[string]string // global ARG name -> default as written (expanded)

	interp   []interp
	platform map[string]string
	notes    []Note

	noNetwork int // first line of a RUN that had network under docker build
	cur       int // the stage being converted, -1 outside
}

type interp struct {
	expr    string // HCL expression, e.g. var.VERSION
	literal string // its value when it must be a constant (a default)
}

type variable struct {
	name, hclName, def string
	line               int
	users              []int // stages that declare it; -1 for a global ARG
}

func (c *converter) note(line int, instr, format string, args ...any) {
	n := Note{Line: line, Instruction: instr, Message: fmt.Sprintf(format, args...), stage: c.cur}
	c.notes = append(c.notes, n)
	if c.cur >= 0 && c.out[c.cur] != nil {
		c.out[c.cur].blk.comment(n.String())
	}
}

// mark returns the marker of an interpolation, to put inside a word.
func (c *converter) mark(e, literal string) string {
	c.interp = append(c.interp, interp{expr: e, literal: literal})
	return string(markOpen) + strconv.Itoa(len(c.interp)-1) + string(markClose)
}

// literal replaces markers by the values they stand for, where HCL wants
// a constant (a variable's default, a source's ref).
func (c *converter) literal(s string) (string, bool) {
	if !strings.ContainsRune(s, markOpen) {
		return s, false
	}
	var b strings.Builder
	for _, part := range c.split(s) {
		if part.interp >= 0 {
			b.WriteString(c.interp[part.interp].literal)
		} else {
			b.WriteString(part.text)
		}
	}
	return b.String(), true
}

// segment is literal text, or the interpolation numbered interp.
type segment struct {
	text   string
	interp int // -1 for text
}

// split cuts an expanded word into text and interpolations. A marker cut
// apart (a ${VAR%?} on an ARG) is no interpolation: its runes are
// dropped, and wellFormed lets callers notice before.
func (c *converter) split(s string) []segment {
	var out []segment
	for s != "" {
		i := strings.IndexRune(s, markOpen)
		if i < 0 {
			out = append(out, segment{text: dropMarks(s), interp: -1})
			break
		}
		if i > 0 {
			out = append(out, segment{text: dropMarks(s[:i]), interp: -1})
		}
		s = s[i+len(string(markOpen)):]
		j := strings.IndexRune(s, markClose)
		k := strings.IndexRune(s, markOpen)
		n, err := strconv.Atoi(s[:max(j, 0)])
		if j < 0 || (k >= 0 && k < j) || err != nil || n < 0 || n >= len(c.interp) {
			continue
		}
		out = append(out, segment{interp: n})
		s = s[j+len(string(markClose)):]
	}
	return mergeText(out)
}

// mergeText joins neighbouring text segments, so that escaping sees
// "$" and "{" side by side.
func mergeText(segs []segment) []segment {
	var out []segment
	for _, sg := range segs {
		if n := len(out); n > 0 && sg.interp < 0 && out[n-1].interp < 0 {
			out[n-1].text += sg.text
			continue
		}
		out = append(out, sg)
	}
	return out
}

func dropMarks(s string) string {
	return strings.Map(func(r rune) rune {
		if r == markOpen || r == markClose {
			return -1
		}
		return r
	}, s)
}

// wellFormed reports whether every marker in s is whole.
func (c *converter) wellFormed(s string) bool {
	n := 0
	for _, p := range c.split(s) {
		if p.interp >= 0 {
			n++
		}
	}
	return n == strings.Count(s, string(markOpen)) && n == strings.Count(s, string(markClose))
}

func (c *converter) targetIndex() (int, error) {
	if c.opts.Target == "" {
		return len(c.stages) - 1, nil
	}
	var names []string
	for i, s := range c.stages {
		if strings.EqualFold(s.Name, c.opts.Target) {
			return i, nil
		}
		if s.Name != "" {
			names = append(names, s.Name)
		}
	}
	return 0, fmt.Errorf("%s has no stage %q to target (its named stages: %s)", c.opts.Filename, c.opts.Target, orNone(names))
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

// global reads the ARGs before the first FROM: they are variables, and
// their values are what FROM lines expand with.
func (c *converter) global(metaArgs []instructions.ArgCommand) {
	c.globals = map[string]string{}
	for _, a := range metaArgs {
		line := lineOf(&a)
		for _, kv := range a.Args {
			def := ""
			if kv.Value != nil {
				v, err := c.expand(*kv.Value, mapEnv(c.globalEnv()), line, "ARG")
				if err == nil {
					def = v
				}
			}
			def, _ = c.literal(def)
			if _, ok := c.platform[kv.Key]; ok {
				continue
			}
			c.globals[kv.Key] = def
			c.declare(kv.Key, def, kv.Value != nil, line)
		}
	}
}

func (c *converter) globalEnv() map[string]string {
	env := map[string]string{}
	for k, v := range c.platform {
		env[k] = v
	}
	for k, v := range c.globals {
		env[k] = v
	}
	return env
}

// declare adds variable NAME, or checks that a second ARG agrees with it.
func (c *converter) declare(name, def string, hasDefault bool, line int) *variable {
	if v := c.varIndex[name]; v != nil {
		v.users = append(v.users, c.cur)
		if hasDefault && def != v.def {
			c.note(line, "ARG", "%s has another default here (%q) than on line %d (%q); build.hcl has one variable %q with the first default: set it with --var for this stage",
				name, def, v.line, v.def, v.hclName)
		}
		return v
	}
	v := &variable{name: name, hclName: c.uniqueVar(name), def: def, line: line, users: []int{c.cur}}
	c.vars = append(c.vars, v)
	c.varIndex[name] = v
	return v
}

func (c *converter) uniqueVar(name string) string {
	base := label(name)
	taken := func(n string) bool {
		for _, v := range c.vars {
			if v.hclName == n {
				return true
			}
		}
		return false
	}
	n := base
	for i := 2; taken(n); i++ {
		n = fmt.Sprintf("%s_%d", base, i)
	}
	return n
}

// platformArgs are BuildKit's automatic platform ARGs. kiln builds for
// one platform on the same machine, so build and target platform agree.
func platformArgs(p string) map[string]string {
	parts := strings.SplitN(p, "/", 3)
	os, arch, variant := parts[0], "", ""
	if len(parts) > 1 {
		arch = parts[1]
	}
	if len(parts) > 2 {
		variant = parts[2]
	}
	m := map[string]string{}
	for _, pre := range []string{"TARGET", "BUILD"} {
		m[pre+"PLATFORM"] = p
		m[pre+"OS"] = os
		m[pre+"ARCH"] = arch
		m[pre+"VARIANT"] = variant
	}
	return m
}

// mapEnv is a shell.EnvGetter over a map.
type mapEnv map[string]string

func (m mapEnv) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m mapEnv) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expand expands a word as BuildKit does, noting the names it did not
// know: the base image may set them, which the importer cannot see.
func (c *converter) expand(word string, env shell.EnvGetter, line int, instr string) (string, error) {
	res, err := c.lex.ProcessWordWithMatches(word, env)
	if err != nil {
		c.note(line, instr, "cannot expand %q: %v; left as written", word, err)
		return word, err
	}
	for _, name := range slices.Sorted(maps.Keys(res.Unmatched)) {
		c.note(line, instr, "$%s is not set by this Dockerfile (the base image may set it); it expands to an empty string here", name)
	}
	return res.Result, nil
}

func lineOf(cmd interface{ Location() []parser.Range }) int {
	if loc := cmd.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

// addSource declares a source once per key and returns its address.
func (c *converter) addSource(key, typ, name string, fill func(*block)) string {
	if a, ok := c.sources[key]; ok {
		b := c.srcByAddr[a]
		c.srcUsers[b] = append(c.srcUsers[b], c.cur)
		return a
	}
	n := label(name)
	for i := 2; c.names[typ+"."+n]; i++ {
		n = fmt.Sprintf("%s_%d", label(name), i)
	}
	c.names[typ+"."+n] = true
	b := newBlock("source", typ, n)
	fill(b)
	c.srcBlocks = append(c.srcBlocks, b)
	addr := "source." + typ + "." + n
	c.sources[key] = addr
	c.srcByAddr[addr] = b
	c.srcUsers[b] = []int{c.cur}
	return addr
}

// imageSource is the source for an image reference.
func (c *converter) imageSource(ref string) string {
	return c.addSource("image:"+ref, "image", imageName(ref), func(b *block) {
		b.set("ref", expr(quoteLiteral(ref)))
	})
}

// imageName is the last path element of a reference, without tag or digest.
func imageName(ref string) string {
	name, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	name, _, _ = strings.Cut(name, ":")
	return name
}

// contextSource is the source for the build context, or the part of it
// that include names (the paths a COPY takes), so that editing another
// file of the context rebuilds nothing, as with BuildKit.
func (c *converter) contextSource(include []string) string {
	key := "context:" + strings.Join(include, "\x00")
	name := "context"
	if len(include) > 0 {
		name = "context_" + strings.TrimSuffix(include[0], "/")
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = "context_" + name[i+1:]
		}
	}
	return c.addSource(key, "local", name, func(b *block) {
		b.set("path", expr(quoteLiteral(c.opts.Context)))
		if len(include) > 0 {
			b.set("include", c.list(include))
		}
	})
}

// namedContext is the source a --build-context NAME=VALUE stands for.
func (c *converter) namedContext(name, spec string) (string, error) {
	switch {
	case strings.HasPrefix(spec, "oci-layout://"):
		p := strings.TrimPrefix(spec, "oci-layout://")
		ref := ""
		if i := strings.LastIndex(p, "@"); i >= 0 {
			p, ref = p[:i], p[i+1:]
		} else if i := strings.LastIndex(p, ":"); i > strings.LastIndex(p, "/") {
			p, ref = p[:i], p[i+1:]
		}
		if p == "" {
			return "", fmt.Errorf("--build-context %s=%s: no layout path", name, spec)
		}
		return c.addSource("oci:"+spec, "oci-layout", name, func(b *block) {
			b.set("path", expr(quoteLiteral(p)))
			if ref != "" {
				b.set("ref", expr(quoteLiteral(ref)))
			}
		}), nil
	case strings.HasPrefix(spec, "docker-image://"):
		ref := strings.TrimPrefix(spec, "docker-image://")
		if ref == "" {
			return "", fmt.Errorf("--build-context %s=%s: no image reference", name, spec)
		}
		return c.imageSource(ref), nil
	case strings.Contains(spec, "://"):
		return "", fmt.Errorf("--build-context %s=%s: kiln import takes oci-layout://, docker-image:// or a folder", name, spec)
	default:
		return c.addSource("local:"+spec, "local", name, func(b *block) {
			b.set("path", expr(quoteLiteral(path.Clean(spec))))
		}), nil
	}
}

// contextFor finds a named build context for a FROM or --from name.
func (c *converter) contextFor(name string) (string, bool) {
	for _, k := range []string{name, strings.TrimSuffix(name, ":latest")} {
		if spec, ok := c.opts.Contexts[k]; ok {
			return spec, true
		}
	}
	return "", false
}

// render writes the file: a header, the kiln block, variables, sources,
// the stages the target needs, and the target's image.
func (c *converter) render(target int) *Result {
	need := c.reachable(target)
	var w strings.Builder
	writeComment(&w, "", fmt.Sprintf("Imported from %s by kiln import%s.", c.opts.Filename, targetNote(c.opts.Target)))
	writeComment(&w, "", "Review the notes it printed (also below, next to what they concern), then run kiln lock.")
	w.WriteString("\n")
	img := c.out[target].name
	if c.stages[target].Name == "" {
		img = "image"
	}
	k := newBlock("kiln")
	k.set("platform", expr(quoteLiteral(c.opts.Platform)))
	k.set("default", expr("["+quoteLiteral(img)+"]"))
	k.write(&w, "")
	used := func(users []int) bool {
		for _, u := range users {
			if u < 0 || need[u] {
				return true
			}
		}
		return false
	}
	for _, v := range c.vars {
		if !used(v.users) {
			continue
		}
		w.WriteString("\n")
		b := newBlock("variable", v.hclName)
		if v.hclName != v.name {
			b.comments = append(b.comments, "ARG "+v.name)
		}
		b.set("type", "string")
		b.set("default", expr(quoteLiteral(v.def)))
		b.write(&w, "")
	}
	for _, s := range c.srcBlocks {
		if !used(c.srcUsers[s]) {
			continue
		}
		w.WriteString("\n")
		s.write(&w, "")
	}
	for i, st := range c.out {
		if need[i] {
			w.WriteString("\n")
			st.blk.write(&w, "")
		}
	}
	w.WriteString("\n")
	c.out[target].image(img).write(&w, "")
	for i, st := range c.out {
		if need[i] && st.firstNetRun > 0 && (c.noNetwork == 0 || st.firstNetRun < c.noNetwork) {
			c.noNetwork = st.firstNetRun
		}
	}
	if c.noNetwork > 0 {
		c.note(c.noNetwork, "RUN", "kiln runs steps without network, docker build with; a step that downloads needs fixed_output = true and network = \"host\" (its output is then pinned by kiln lock), or its inputs as sources")
	}
	var notes []Note
	for _, n := range c.notes {
		if n.stage < 0 || need[n.stage] {
			notes = append(notes, n)
		}
	}
	sort.SliceStable(notes, func(i, j int) bool { return notes[i].Line < notes[j].Line })
	return &Result{HCL: hclwrite.Format([]byte(w.String())), Notes: notes, Image: img}
}

func targetNote(t string) string {
	if t == "" {
		return ""
	}
	return " (--target " + t + ")"
}

// reachable lists the stages the target depends on, itself included, as
// BuildKit builds only those.
func (c *converter) reachable(target int) []bool {
	need := make([]bool, len(c.out))
	var visit func(int)
	visit = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		for _, d := range c.out[i].deps {
			visit(d)
		}
	}
	visit(target)
	return need
}
