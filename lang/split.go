package lang

import (
	"bytes"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/kiln-build/kiln/internal/par"
)

// loadFast is the one way into kiln's own parser (fastparse.go) and its
// chunked loading; load falls back to loadWhole, hcl's parser on the whole
// file, when it returns false having reported nothing: for a file too
// small to split or with a syntax error anywhere, whose diagnostics should
// be hcl's for the whole file. Either way the result is the same
// (TestChunkedLoadMatchesWhole, TestChunkedLoadCorpus).
//
// hclsyntax lexes a whole file into one token slice before parsing; for a
// generated build file of 10,000 stages that slice alone is hundreds of
// megabytes, mostly garbage from append growth. Chunks that start at a
// top-level keyword in column 1 keep each token slice small and parse on
// every core. A split point inside a heredoc, comment or block always
// leaves some chunk unbalanced, so it shows up as a chunk's syntax error.
func (l *Loader) loadFast(src []byte, name, dir string) (*Config, hcl.Diagnostics, bool) {
	cs := splitChunks(src)
	if len(cs) < 2 {
		return nil, nil, false
	}
	if cfg, diags, ok := l.loadOnePass(src, name, dir, cs); ok {
		return cfg, diags, true
	}
	f, ok := parseChunked(src, name, cs)
	if !ok {
		return nil, nil, false
	}
	l.parser.AddFile(name, f)
	cfg, diags := l.eval(f.Body, name, dir, nil)
	return cfg, diags, true
}

// parseChunked parses the chunks cs of src on every core into one file.
// It returns false if any chunk has a syntax error.
func parseChunked(src []byte, name string, cs []chunk) (*hcl.File, bool) {
	files, ok := parseChunks(src, name, cs)
	if !ok {
		return nil, false
	}
	bodies := make([]hcl.Body, len(files))
	navs := make(chunkedNav, len(files))
	for i, f := range files {
		bodies[i] = f.Body
		navs[i] = chunkNav{start: cs[i].pos.Byte, nav: f.Nav}
	}
	return &hcl.File{Body: hcl.MergeBodies(bodies), Bytes: src, Nav: navs}, true
}

// chunk is one piece of a native-syntax file that starts at a top-level
// keyword (or at the start of the file).
type chunk struct {
	pos hcl.Pos
	end int
}

func (c chunk) bytes(src []byte) []byte { return src[c.pos.Byte:c.end] }

// parse tries the fast parser first, building its nodes in arena; hcl's
// own parses whatever it leaves.
func (c chunk) parse(arena *nodeArena, src []byte, name string) (*hcl.File, bool) {
	body, f, ok := c.parseBody(arena, src, name)
	if f == nil && ok {
		b := c.bytes(src)
		f = &hcl.File{Body: body, Bytes: b, Nav: &lazyNav{src: b, name: name, pos: c.pos}}
	}
	return f, ok
}

// parseBody is parse without the file the fast parser's body would need
// (a stage chunk's navigation is rebuilt on demand, stagePlan.nav): f is
// hcl's file when hcl parsed the chunk, nil when the fast parser did.
func (c chunk) parseBody(arena *nodeArena, src []byte, name string) (body hcl.Body, f *hcl.File, ok bool) {
	b := c.bytes(src)
	if body, ok := fastParseIn(arena, b, name, c.pos); ok {
		return body, nil, true
	}
	f, diags := hclsyntax.ParseConfig(b, name, c.pos)
	return f.Body, f, !diags.HasErrors()
}

// lazyNav stands for the navigation data of a chunk the fast parser read
// (hcl builds it only in its own parser), reparsing the chunk with hcl the
// first time a diagnostic in it is printed.
type lazyNav struct {
	src  []byte
	name string
	pos  hcl.Pos
	once sync.Once
	nav  any
}

func (n *lazyNav) get() any {
	n.once.Do(func() {
		f, _ := hclsyntax.ParseConfig(n.src, n.name, n.pos)
		n.nav = f.Nav
	})
	return n.nav
}

// ContextString implements the writer's contextStringer.
func (n *lazyNav) ContextString(offset int) string {
	if cs, ok := n.get().(interface{ ContextString(int) string }); ok {
		return cs.ContextString(offset)
	}
	return ""
}

// ContextDefRange implements hcl's contextDefRanger.
func (n *lazyNav) ContextDefRange(offset int) hcl.Range {
	if cs, ok := n.get().(interface{ ContextDefRange(int) hcl.Range }); ok {
		return cs.ContextDefRange(offset)
	}
	return hcl.Range{}
}

// splitChunks cuts src where a line starts, in column 1, with a top-level
// keyword followed by a space, quote or brace, with each chunk's
// position; the first chunk starts at offset 0. Lines are counted in the
// same pass.
func splitChunks(src []byte) []chunk {
	cs := []chunk{{pos: hcl.Pos{Line: 1, Column: 1, Byte: 0}}}
	line := 1
	for off := 0; ; {
		nl := bytes.IndexByte(src[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
		line++
		if off < len(src) && startsTopLevel(src[off:]) {
			cs[len(cs)-1].end = off
			cs = append(cs, chunk{pos: hcl.Pos{Line: line, Column: 1, Byte: off}})
		}
	}
	cs[len(cs)-1].end = len(src)
	return cs
}

// startsTopLevel says whether b starts with a top-level keyword followed
// by a space, quote or brace. Most lines of a build file are indented or
// close a block, so the first byte rules them out before any keyword is
// compared.
func startsTopLevel(b []byte) bool {
	var kw string
	switch b[0] {
	case 'k':
		kw = "kiln"
	case 'v':
		kw = "variable"
	case 'l':
		kw = "locals"
	case 'f':
		kw = "function"
	case 's':
		kw = "stage"
		if len(b) > 1 && b[1] == 'o' {
			kw = "source"
		}
	case 'i':
		kw = "image"
	case 'a':
		kw = "artifact"
	case 'g':
		kw = "group"
	default:
		return false
	}
	return startsWithKeyword(b, kw)
}

// parseChunks parses cs on every core: chunks are independent and hcl's
// lexer dominates the load time of large build files. It returns false if
// any chunk has a syntax error. The trees are kept: each worker's arena
// holds the nodes of all the chunks it parsed.
func parseChunks(src []byte, name string, cs []chunk) ([]*hcl.File, bool) {
	files := make([]*hcl.File, len(cs))
	arenas := make([]nodeArena, par.Workers(len(cs)))
	var bad atomic.Bool
	par.EachWorker(len(cs), func(w, i int) {
		if bad.Load() {
			return
		}
		f, ok := cs[i].parse(&arenas[w], src, name)
		if !ok {
			bad.Store(true)
		}
		files[i] = f
	})
	return files, !bad.Load()
}

type chunkNav struct {
	start int
	nav   any
	// reparse, when set, stands for nav: the chunk's syntax tree was
	// dropped after evaluation to save memory, and is rebuilt only when a
	// diagnostic in it is printed.
	reparse func() any
}

// chunkedNav lets hcl's diagnostic writer find the block around an offset
// ("in stage "a"") in whichever chunk holds it.
type chunkedNav []chunkNav

func (n chunkedNav) find(offset int) any {
	i := sort.Search(len(n), func(i int) bool { return n[i].start > offset }) - 1
	if i < 0 {
		return nil
	}
	if n[i].reparse != nil {
		return n[i].reparse()
	}
	return n[i].nav
}

// ContextString implements the writer's contextStringer.
func (n chunkedNav) ContextString(offset int) string {
	if cs, ok := n.find(offset).(interface{ ContextString(int) string }); ok {
		return cs.ContextString(offset)
	}
	return ""
}

// ContextDefRange implements hcl's contextDefRanger.
func (n chunkedNav) ContextDefRange(offset int) hcl.Range {
	if cs, ok := n.find(offset).(interface{ ContextDefRange(int) hcl.Range }); ok {
		return cs.ContextDefRange(offset)
	}
	return hcl.Range{}
}

// stageHeaderName reads the name from the first line of a stage block
// whose name can be read without parsing: one quoted label that is a plain
// identifier, as ^stage[ \t]+"([A-Za-z_][A-Za-z0-9_-]*)"[ \t]*\{ would
// match it. By hand, since compiling the expression cost every build more
// than matching it.
func stageHeaderName(b []byte) (string, bool) {
	if !bytes.HasPrefix(b, []byte("stage")) {
		return "", false
	}
	i := len("stage")
	blanks := func() int {
		n := 0
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
			n++
		}
		return n
	}
	if blanks() == 0 || i >= len(b) || b[i] != '"' {
		return "", false
	}
	i++
	start := i
	for i < len(b) && identByte(b[i], i > start) {
		i++
	}
	if i == start || i >= len(b) || b[i] != '"' {
		return "", false
	}
	name := string(b[start:i])
	i++
	blanks()
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	return name, true
}

// identByte says whether c may be in a stage name that stageHeaderName
// reads: a letter or underscore, and after the first byte also a digit or
// a dash.
func identByte(c byte, later bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		return true
	case later && ('0' <= c && c <= '9' || c == '-'):
		return true
	}
	return false
}

// stagePlan is the stage chunks of a build file, named from their first
// lines before anything is parsed.
//
// Stages are most of a large build file, and their bodies can only be
// decoded once every other block is evaluated (they refer to variables,
// locals and sources) and every stage name is known (stage.NAME). Reading
// the names from the header lines lets each stage chunk be parsed and
// decoded in one step on one core, its syntax tree becoming garbage right
// away, instead of holding the trees of all stages in memory between a
// parse-everything and a decode-everything pass.
type stagePlan struct {
	src    []byte
	name   string // the file, as diagnostics name it
	chunks []chunk
	names  []string
	index  map[string]int32 // stage number by name
}

// planStages splits cs into the stage chunks, as a plan, and the others.
// It returns false when the split cannot be trusted to give the same
// result as parsing the whole file: a stage header it cannot read or a
// stage name used twice (whose diagnostic needs the parsed blocks). A
// stage with matrix or for_each is found later, when its chunk is parsed
// (stagePlan.block).
func planStages(src []byte, name string, cs []chunk) (*stagePlan, []chunk, bool) {
	// Sized for every chunk a stage, as in large generated files.
	p := &stagePlan{src: src, name: name, index: make(map[string]int32, len(cs)),
		chunks: make([]chunk, 0, len(cs)), names: make([]string, 0, len(cs))}
	var rest []chunk
	for _, c := range cs {
		b := c.bytes(src)
		if !startsWithKeyword(b, "stage") {
			rest = append(rest, c)
			continue
		}
		n, ok := stageHeaderName(b)
		if _, dup := p.index[n]; !ok || dup {
			return nil, nil, false
		}
		p.index[n] = int32(len(p.chunks))
		p.chunks = append(p.chunks, c)
		p.names = append(p.names, n)
	}
	return p, rest, true
}

// joinRuns joins chunks of cs that follow each other in the file into
// chunks of up to n: the file's other blocks are often many small ones
// (1,000 sources), and each chunk parsed costs a file, a body and its
// navigation of its own, and a body more in every merged Content.
// Adjacent chunks parsed together give the same blocks and positions as
// parsed apart: each starts where a top-level block may start, and a run
// that does not parse cleanly sends the load the other way, as one of its
// chunks would.
func joinRuns(cs []chunk, n int) []chunk {
	var out []chunk
	run := 0
	for _, c := range cs {
		if len(out) > 0 && out[len(out)-1].end == c.pos.Byte && run < n {
			out[len(out)-1].end = c.end
			run++
			continue
		}
		out = append(out, c)
		run = 1
	}
	return out
}

// startsWithKeyword says whether b starts with kw followed by a space,
// quote or brace.
func startsWithKeyword(b []byte, kw string) bool {
	if len(b) <= len(kw) || string(b[:len(kw)]) != kw {
		return false
	}
	c := b[len(kw)]
	return c == ' ' || c == '"' || c == '{'
}

// block parses stage chunk i, its nodes in arena. It returns false unless
// the chunk holds exactly the stage block the plan named and nothing
// else, cleanly, without matrix or for_each. hcl's view of a syntax block
// is written to *view, which the caller keeps on its stack (as
// blockList.at does).
func (p *stagePlan) block(arena *nodeArena, i int, view *hcl.Block) (*hcl.Block, bool) {
	top, _, ok := p.chunks[i].parseBody(arena, p.src, p.name)
	if !ok {
		return nil, false
	}
	var b *hcl.Block
	if body, ok := cleanBody(top, rootSchema); ok && len(body.Attributes) == 0 && len(body.Blocks) == 1 {
		*view = *body.Blocks[0].AsHCLBlock()
		b = view
	} else {
		content, diags := top.Content(rootSchema)
		if len(diags) > 0 || len(content.Blocks) != 1 {
			return nil, false
		}
		b = content.Blocks[0]
	}
	// A stage with matrix or for_each is named by its instances, known
	// only once variables are bound: the file is loaded the other way.
	if b.Type != "stage" || len(b.Labels) != 1 || b.Labels[0] != p.names[i] || isMulti(b) {
		return nil, false
	}
	return b, true
}

// nav stands for stage chunk i's navigation data without keeping its
// syntax tree alive.
func (p *stagePlan) nav(i int) chunkNav {
	c := p.chunks[i]
	return chunkNav{start: c.pos.Byte, reparse: func() any {
		f, _ := hclsyntax.ParseConfig(c.bytes(p.src), p.name, c.pos)
		return f.Nav
	}}
}

// decodeStageChunks parses and decodes the plan's stages on every core,
// each chunk by a fork of e, and appends their diagnostics in file order
// as decodeStages does. It returns false if a chunk is not as planned.
//
// Each worker parses into its own arena and reuses it for the next chunk
// once a stage is decoded: the decoded Stage holds no pointer into its
// syntax tree. A chunk with diagnostics keeps its tree (they may name its
// expressions) and the worker starts a new arena.
func (e *evaluator) decodeStageChunks(p *stagePlan) ([]*Stage, bool) {
	n := len(p.chunks)
	stages := make([]*Stage, n)
	diags := make([]hcl.Diagnostics, n)
	// The stages each one refers to are listed here for
	// checkStageCycles, while the stage is fresh in this core's cache.
	out := make([][]int32, n)
	arenas := make([]*nodeArena, par.Workers(n))
	for w := range arenas {
		arenas[w] = &nodeArena{}
	}
	var bad atomic.Bool
	par.EachWorker(n, func(w, i int) {
		if bad.Load() {
			return
		}
		var view hcl.Block
		b, ok := p.block(arenas[w], i, &view)
		if !ok {
			bad.Store(true)
			return
		}
		f := e.fork()
		stages[i] = f.decodeStage(b)
		diags[i] = f.diags
		out[i] = stageTargets(stages[i], p.index)
		if len(f.diags) == 0 {
			arenas[w].reset()
		} else {
			// The caches hold no tree's memory: they go on.
			arenas[w] = &nodeArena{vals: arenas[w].vals, names: arenas[w].names}
		}
	})
	if bad.Load() {
		return nil, false
	}
	for _, ds := range diags {
		e.add(ds)
	}
	e.stageOut = out
	return stages, true
}

// loadOnePass loads native-syntax src, cut into the chunks cs, with its
// stages parsed and decoded in one pass (stagePlan). It returns false,
// having reported nothing, for a file it cannot load that way (a syntax
// error, an unexpected shape); loadFast then parses every chunk before
// evaluating, which gives the same result.
func (l *Loader) loadOnePass(src []byte, name, dir string, cs []chunk) (*Config, hcl.Diagnostics, bool) {
	plan, rest, ok := planStages(src, name, cs)
	if !ok || len(plan.chunks) == 0 {
		return nil, nil, false
	}
	stageObj := planStageObject(plan.names)
	rest = joinRuns(rest, 16)
	files, ok := parseChunks(src, name, rest)
	if !ok {
		return nil, nil, false
	}
	bodies := make([]hcl.Body, len(files))
	for i, f := range files {
		// A stage block the split missed (not in column 1) would be
		// decoded out of file order.
		if b, ok := f.Body.(*hclsyntax.Body); !ok || slices.ContainsFunc(b.Blocks, func(b *hclsyntax.Block) bool { return b.Type == "stage" }) {
			return nil, nil, false
		}
		bodies[i] = f.Body
	}
	body := hcl.MergeBodies(bodies)
	// Variables files are parsed into a scratch parser that starts as a
	// copy of l's: hclparse returns a file it already holds without its
	// diagnostics, so parsing into l's own before a fallback would lose
	// them when the file is loaded again.
	scratch := &Loader{opts: l.opts, parser: hclparse.NewParser(), generalDecode: l.generalDecode, target: l.target}
	for n, f := range l.parser.Files() {
		scratch.parser.AddFile(n, f)
	}
	e := newEvaluator(scratch, name, dir)
	e.plannedStages = stageObj
	cfg, top := e.beforeStages(body, plan.names)
	stages, ok := e.decodeStageChunks(plan)
	if !ok {
		return nil, nil, false
	}
	cfg.Stages = stages
	e.afterStages(cfg, top)
	for n, f := range scratch.parser.Files() {
		l.parser.AddFile(n, f)
	}
	// The diagnostic writer needs each chunk's navigation data in file
	// order; stage chunks rebuild theirs on demand.
	navs := make(chunkedNav, 0, len(cs))
	ri, si := 0, 0
	for ri < len(rest) || si < len(plan.chunks) {
		if si == len(plan.chunks) || (ri < len(rest) && rest[ri].pos.Byte < plan.chunks[si].pos.Byte) {
			navs = append(navs, chunkNav{start: rest[ri].pos.Byte, nav: files[ri].Nav})
			ri++
		} else {
			navs = append(navs, plan.nav(si))
			si++
		}
	}
	// Body holds the blocks other than stages: the file is kept for its
	// bytes and navigation, which is all diagnostics printing reads.
	l.parser.AddFile(name, &hcl.File{Body: body, Bytes: src, Nav: navs})
	if e.diags.HasErrors() {
		return nil, e.diags, true
	}
	return cfg, e.diags, true
}
