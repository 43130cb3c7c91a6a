package lang

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// fastParse parses src, a native-syntax chunk that starts at pos (column
// 1), into the very syntax tree hclsyntax.ParseConfig would build, ranges
// included. It returns false for anything outside the subset it knows,
// and the caller then parses with hclsyntax, so a false is never an
// error and never changes a result.
//
// hcl's lexer turns a large build file into hundreds of megabytes of
// tokens before its parser starts; most build files are blocks of
// attributes holding strings, numbers, references, lists and maps, which
// this parser reads in one pass over the bytes. The subset: blocks with
// quoted or bare labels, attributes, line comments, and the expressions
// literal, reference (a.b.c), function call, quoted template with ${...}
// interpolation, tuple and object. Operators, conditionals, indexes, for
// expressions, splats, expanded arguments (f(a...)), namespaced calls,
// heredocs, directives, block comments, \u escapes, CR and non-ASCII
// bytes all fall back. FuzzFastParse checks the trees agree.
func fastParse(src []byte, name string, pos hcl.Pos) (*hclsyntax.Body, bool) {
	return fastParseIn(&nodeArena{}, src, name, pos)
}

// fastParseIn is fastParse building the tree's nodes in arena.
func fastParseIn(arena *nodeArena, src []byte, name string, pos hcl.Pos) (*hclsyntax.Body, bool) {
	if pos.Column != 1 {
		return nil, false
	}
	for _, c := range src {
		// NUL too: peek reads it as the end of the input.
		if c >= 0x80 || c == '\r' || c == 0 {
			return nil, false
		}
	}
	p := &fastParser{src: src, name: name, base: pos.Byte, line: pos.Line, nodes: arena}
	body := p.topBody()
	if p.bad {
		return nil, false
	}
	return body, true
}

type fastParser struct {
	src       []byte
	name      string
	base      int // byte offset of src[0] in the file
	i         int // next byte to read
	line      int // line of src[i]
	lineStart int // offset in src of the start of that line
	bad       bool
	nodes     *nodeArena
}

// fail marks the input as outside the subset; callers unwind by checking
// p.bad, and every result built after it is discarded.
func (p *fastParser) fail() { p.bad = true }

// pos is the position of src[off], which must be on the current line.
func (p *fastParser) pos(off int) hcl.Pos {
	return hcl.Pos{Line: p.line, Column: off - p.lineStart + 1, Byte: p.base + off}
}

// rng is the range of src[start:end] on the current line.
func (p *fastParser) rng(start, end int) hcl.Range {
	return hcl.Range{Filename: p.name, Start: p.pos(start), End: p.pos(end)}
}

func (p *fastParser) peek() byte {
	if p.i < len(p.src) {
		return p.src[p.i]
	}
	return 0
}

func (p *fastParser) peekAt(k int) byte {
	if p.i+k < len(p.src) {
		return p.src[p.i+k]
	}
	return 0
}

func (p *fastParser) skipSpaces() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
	}
}

func (p *fastParser) atComment() bool {
	c := p.peek()
	return c == '#' || (c == '/' && p.peekAt(1) == '/')
}

// newline consumes the newline or line comment at p.i and returns
// its range, which hcl's parser sees as a newline token.
func (p *fastParser) newline() hcl.Range {
	start := p.pos(p.i)
	for p.i < len(p.src) && p.src[p.i] != '\n' {
		p.i++
	}
	if p.i == len(p.src) { // a comment that ends the file
		return hcl.Range{Filename: p.name, Start: start, End: p.pos(p.i)}
	}
	p.i++
	p.line++
	p.lineStart = p.i
	return hcl.Range{Filename: p.name, Start: start, End: p.pos(p.i)}
}

// skipBlank skips spaces, newlines and line comments, as hcl does inside
// brackets, parentheses and interpolations.
func (p *fastParser) skipBlank() {
	for {
		p.skipSpaces()
		if p.peek() == '\n' || p.atComment() {
			p.newline()
			continue
		}
		if p.peek() == '/' && p.peekAt(1) == '*' {
			p.fail()
		}
		return
	}
}

// endOfItem consumes the newline, comment or end of file that must
// follow an attribute or block.
func (p *fastParser) endOfItem() {
	p.skipSpaces()
	switch {
	case p.i == len(p.src):
	case p.peek() == '\n' || p.atComment():
		p.newline()
	default:
		p.fail()
	}
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentByte(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '-'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *fastParser) ident() (string, hcl.Range) {
	start := p.i
	for p.i < len(p.src) && isIdentByte(p.src[p.i]) {
		p.i++
	}
	return p.intern(p.src[start:p.i]), p.rng(start, p.i)
}

// intern returns string(b), shared with earlier names: the language's
// own (knownNames) and, up to the cache's bound, the file's (variables,
// locals, env keys, source names and types, mount types), which recur as
// often (see stringVal).
func (p *fastParser) intern(b []byte) string {
	if s, ok := knownNames[string(b)]; ok {
		return s
	}
	if s, ok := p.nodes.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= maxCachedLen && len(p.nodes.names) < maxCachedVals {
		if p.nodes.names == nil {
			p.nodes.names = map[string]string{}
		}
		p.nodes.names[s] = s
	}
	return s
}

// knownNames are the block types, attribute names and reference roots of
// the language, so that the thousands of times a large file names them
// share one string each.
var knownNames = func() map[string]string {
	m := map[string]string{}
	add := func(names ...string) {
		for _, n := range names {
			m[n] = n
		}
	}
	add("var", "local", "source", "stage", "image", "artifact", "group", "true", "false", "null")
	schemas := []*hcl.BodySchema{rootSchema, projectSchema, stageSchema, imageSchema, artifactSchema,
		groupSchema, variableSchema, validationSchema}
	for _, sm := range []map[string]*hcl.BodySchema{sourceSchemas, stepSchemas, mountSchemas} {
		for k, s := range sm {
			add(k)
			schemas = append(schemas, s)
		}
	}
	for _, s := range schemas {
		for _, a := range s.Attributes {
			add(a.Name)
		}
		for _, b := range s.Blocks {
			add(b.Type)
		}
	}
	return m
}()

func (p *fastParser) topBody() *hclsyntax.Body {
	// The body's range starts at the first token hcl's peeker returns:
	// a newline (or a comment standing for one), an item or the end.
	p.skipSpaces()
	var startRange hcl.Range
	switch {
	case p.peek() == '\n' || p.atComment():
		save := *p
		startRange = p.newline()
		if p.i == len(p.src) && p.line == save.line {
			// A comment that ends the file without a newline is skipped
			// like a space: the first token is the end.
			startRange = p.rng(p.i, p.i)
		}
		*p = save
	case p.i == len(p.src):
		startRange = p.rng(p.i, p.i)
	default:
		save := p.i
		if isIdentStart(p.peek()) {
			_, startRange = p.ident()
		} else {
			p.fail()
		}
		p.i = save
	}
	return p.body(startRange, false)
}

// body parses items up to the end of the file or, when nested, up to the
// closing brace of a block; startRange is where hcl starts the body's
// range (a block's opening brace).
func (p *fastParser) body(startRange hcl.Range, nested bool) *hclsyntax.Body {
	attrs := p.nodes.attrMap()
	var buf [8]*hclsyntax.Block
	blocks := buf[:0]
	var endRange hcl.Range
	for !p.bad {
		p.skipSpaces()
		c := p.peek()
		switch {
		case p.i == len(p.src):
			if nested {
				p.fail()
				return nil
			}
			endRange = p.rng(p.i, p.i)
		case c == '\n' || p.atComment():
			p.newline()
			continue
		case c == '}' && nested:
			endRange = p.rng(p.i, p.i+1)
			p.i++
		case isIdentStart(c):
			name, nameRange := p.ident()
			p.skipSpaces()
			switch c := p.peek(); {
			case c == '=' && p.peekAt(1) != '=':
				a := p.attribute(name, nameRange)
				if p.bad {
					return nil
				}
				if _, dup := attrs[name]; dup {
					p.fail()
					return nil
				}
				attrs[name] = a
			case c == '"' || c == '{' || isIdentStart(c):
				if b := p.block(name, nameRange); b != nil {
					blocks = append(blocks, b)
				}
			default:
				p.fail()
			}
			continue
		default:
			p.fail()
			return nil
		}
		break
	}
	if p.bad {
		return nil
	}
	bs := hclsyntax.Blocks{}
	if len(blocks) > 0 {
		bs = p.nodes.blockPtrs.copyOf(blocks)
	}
	return p.nodes.bodies.put(hclsyntax.Body{
		Attributes: attrs,
		Blocks:     bs,
		SrcRange:   hcl.RangeBetween(startRange, endRange),
		EndRange:   hcl.Range{Filename: endRange.Filename, Start: endRange.End, End: endRange.End},
	})
}

func (p *fastParser) attribute(name string, nameRange hcl.Range) *hclsyntax.Attribute {
	eq := p.rng(p.i, p.i+1)
	p.i++
	p.skipSpaces()
	expr := p.expr(false)
	if p.bad {
		return nil
	}
	a := p.nodes.attrs.put(hclsyntax.Attribute{
		Name:        name,
		Expr:        expr,
		SrcRange:    hcl.RangeBetween(nameRange, expr.Range()),
		NameRange:   nameRange,
		EqualsRange: eq,
	})
	p.endOfItem()
	return a
}

func (p *fastParser) block(typ string, typeRange hcl.Range) *hclsyntax.Block {
	var labelBuf [4]string
	var rangeBuf [4]hcl.Range
	labels, labelRanges := labelBuf[:0], rangeBuf[:0]
	for {
		p.skipSpaces()
		c := p.peek()
		if c == '{' {
			break
		}
		switch {
		case c == '"':
			s, r := p.label()
			labels = append(labels, s)
			labelRanges = append(labelRanges, r)
		case isIdentStart(c):
			s, r := p.ident()
			labels = append(labels, s)
			labelRanges = append(labelRanges, r)
		default:
			p.fail()
		}
		if p.bad {
			return nil
		}
	}
	open := p.rng(p.i, p.i+1)
	p.i++
	p.skipSpaces()
	if c := p.peek(); c != '\n' && c != '}' && !p.atComment() {
		p.fail() // a single-line block or garbage
		return nil
	}
	body := p.body(open, true)
	if p.bad {
		return nil
	}
	closeRange := hcl.Range{Filename: p.name, Start: p.pos(p.i - 1), End: p.pos(p.i)}
	p.endOfItem()
	return p.nodes.blocks.put(hclsyntax.Block{
		Type:            typ,
		Labels:          p.nodes.strs.copyOf(labels),
		Body:            body,
		TypeRange:       typeRange,
		LabelRanges:     p.nodes.ranges.copyOf(labelRanges),
		OpenBraceRange:  open,
		CloseBraceRange: closeRange,
	})
}

// label reads a quoted block label, which may not interpolate.
func (p *fastParser) label() (string, hcl.Range) {
	start := p.i
	p.i++
	b, _, ok := p.literalRun()
	if !ok || p.peek() != '"' {
		p.fail()
		return "", hcl.Range{}
	}
	p.i++
	return p.intern(b), p.rng(start, p.i)
}

// literalRun reads template text up to a closing quote or an
// interpolation, resolving escapes. It returns the text (src's own bytes
// when there is no escape: the caller copies them), whether it was empty
// in the source, and false for anything it does not handle.
func (p *fastParser) literalRun() ([]byte, bool, bool) {
	start := p.i
	plain := true // no escapes so far: the text is the source bytes
	var buf []byte
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch c {
		case '"':
			return p.text(start, plain, buf), p.i == start, true
		case '\n':
			return nil, false, false
		case '\\':
			var r byte
			switch p.peekAt(1) {
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case '"':
				r = '"'
			case '\\':
				r = '\\'
			default:
				return nil, false, false
			}
			if plain {
				buf = append(buf, p.src[start:p.i]...)
				plain = false
			}
			buf = append(buf, r)
			p.i += 2
			continue
		case '$', '%':
			next := p.peekAt(1)
			if next == '{' {
				if c == '%' {
					return nil, false, false // a directive
				}
				return p.text(start, plain, buf), p.i == start, true
			}
			if next == c {
				if p.peekAt(2) == '{' { // $${ and %%{ stand for ${ and %{
					if plain {
						buf = append(buf, p.src[start:p.i]...)
						plain = false
					}
					buf = append(buf, c, '{')
					p.i += 3
					continue
				}
				return nil, false, false // runs of $ or % are for hcl to split
			}
		}
		if !plain {
			buf = append(buf, c)
		}
		p.i++
	}
	return nil, false, false
}

func (p *fastParser) text(start int, plain bool, buf []byte) []byte {
	if plain {
		return p.src[start:p.i]
	}
	return buf
}

// stringVal is cty.StringVal(string(b)), from the arena's cache when b
// was seen before: a large file repeats most of its literal strings
// ("/src", "0755", "10m"), and each new value is two allocations (the
// bytes and the boxed string) and a pass of NFC normalisation. Values
// are immutable, so trees share them; they are not arena memory and
// survive its reset. The cache is bounded: unique strings beyond it are
// made as before.
func (p *fastParser) stringVal(b []byte) cty.Value {
	if v, ok := p.nodes.vals[string(b)]; ok {
		return v
	}
	v := cty.StringVal(string(b))
	if len(b) <= maxCachedLen && len(p.nodes.vals) < maxCachedVals {
		if p.nodes.vals == nil {
			p.nodes.vals = map[string]cty.Value{}
		}
		p.nodes.vals[v.AsString()] = v
	}
	return v
}

// The bounds of a nodeArena's string cache: about 100 KB at most.
const (
	maxCachedVals = 1024
	maxCachedLen  = 64
)

// expr parses one expression. inBrackets is hcl's "newlines are not
// significant" mode (tuples, interpolations); elsewhere an expression
// must start on the current line.
func (p *fastParser) expr(inBrackets bool) hclsyntax.Expression {
	if inBrackets {
		p.skipBlank()
	}
	var e hclsyntax.Expression
	c := p.peek()
	switch {
	case c == '"':
		e = p.template()
	case isDigit(c):
		start := p.i
		for p.i < len(p.src) && isDigit(p.src[p.i]) {
			p.i++
		}
		if c := p.peek(); c == '.' || isIdentByte(c) {
			p.fail() // fractions, exponents and 1abc are hcl's
			return nil
		}
		v, err := cty.ParseNumberVal(string(p.src[start:p.i]))
		if err != nil {
			p.fail()
			return nil
		}
		e = p.nodes.literals.put(hclsyntax.LiteralValueExpr{Val: v, SrcRange: p.rng(start, p.i)})
	case isIdentStart(c):
		e = p.reference(inBrackets)
	case c == '[':
		e = p.tuple()
	case c == '{':
		e = p.object()
	default:
		p.fail()
	}
	if p.bad {
		return nil
	}
	return e
}

// reference parses a literal keyword or a traversal a.b.c.
func (p *fastParser) reference(inBrackets bool) hclsyntax.Expression {
	name, r := p.ident()
	p.skipSpaces()
	switch c := p.peek(); {
	case c == '(':
		return p.call(name, r)
	case c == ':' && p.peekAt(1) == ':':
		p.fail() // a namespaced function
		return nil
	}
	switch name {
	case "true":
		return p.nodes.literals.put(hclsyntax.LiteralValueExpr{Val: cty.True, SrcRange: r})
	case "false":
		return p.nodes.literals.put(hclsyntax.LiteralValueExpr{Val: cty.False, SrcRange: r})
	case "null":
		return p.nodes.literals.put(hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: r})
	}
	var stepBuf [4]hcl.Traverser
	trav := append(stepBuf[:0], p.nodes.root(hcl.TraverseRoot{Name: name, SrcRange: r}))
	t := p.nodes.travs.put(hclsyntax.ScopeTraversalExpr{SrcRange: r})
	for {
		save := *p
		if inBrackets {
			p.skipBlank()
		} else {
			p.skipSpaces()
		}
		if p.peek() != '.' {
			*p = save
			t.Traversal = p.nodes.steps.copyOf(trav)
			return t
		}
		dot := p.pos(p.i)
		p.i++
		if inBrackets {
			p.skipBlank()
		} else {
			p.skipSpaces()
		}
		if !isIdentStart(p.peek()) {
			p.fail() // legacy index a.0 or splat a.*
			return nil
		}
		attr, ar := p.ident()
		step := hcl.TraverseAttr{Name: attr, SrcRange: hcl.Range{Filename: p.name, Start: dot, End: ar.End}}
		trav = append(trav, p.nodes.attrStep(step))
		t.SrcRange.End = ar.End
	}
}

// call parses the arguments of a call to name, at its open parenthesis.
func (p *fastParser) call(name string, nameRange hcl.Range) hclsyntax.Expression {
	open := p.rng(p.i, p.i+1)
	p.i++
	var args []hclsyntax.Expression
	for !p.bad {
		p.skipBlank()
		if p.peek() == ')' {
			break
		}
		arg := p.expr(true)
		if p.bad {
			return nil
		}
		args = append(args, arg)
		p.skipBlank()
		if p.peek() == ')' {
			break
		}
		if p.peek() != ',' {
			p.fail() // an expanded final argument (...) or garbage
			return nil
		}
		p.i++
	}
	if p.bad {
		return nil
	}
	closeRange := p.rng(p.i, p.i+1)
	p.i++
	return &hclsyntax.FunctionCallExpr{
		Name:            name,
		Args:            args,
		NameRange:       nameRange,
		OpenParenRange:  open,
		CloseParenRange: closeRange,
	}
}

// template parses a quoted template.
func (p *fastParser) template() hclsyntax.Expression {
	open := p.pos(p.i)
	p.i++
	var partBuf [8]hclsyntax.Expression
	parts := partBuf[:0]
	interps := 0
	for !p.bad {
		start := p.i
		s, empty, ok := p.literalRun()
		if !ok {
			p.fail()
			return nil
		}
		if !empty {
			parts = append(parts, p.nodes.literals.put(hclsyntax.LiteralValueExpr{Val: p.stringVal(s), SrcRange: p.rng(start, p.i)}))
		}
		if p.peek() == '"' {
			break
		}
		// ${ (literalRun stops only at a quote or an interpolation)
		p.i += 2
		if p.peek() == '~' {
			p.fail()
			return nil
		}
		e := p.expr(true)
		if p.bad {
			return nil
		}
		p.skipBlank()
		if p.peek() != '}' {
			p.fail()
			return nil
		}
		p.i++
		parts = append(parts, e)
		interps++
	}
	if p.bad {
		return nil
	}
	p.i++ // the closing quote
	end := p.pos(p.i)
	srcRange := hcl.Range{Filename: p.name, Start: open, End: end}
	if len(parts) == 1 && interps == 1 {
		return p.nodes.wraps.put(hclsyntax.TemplateWrapExpr{Wrapped: parts[0], SrcRange: srcRange})
	}
	if len(parts) == 0 {
		// hcl's stand-in for "": an empty literal just after the quotes.
		parts = append(parts, p.nodes.literals.put(hclsyntax.LiteralValueExpr{
			Val:      cty.StringVal(""),
			SrcRange: hcl.Range{Filename: p.name, Start: end, End: end},
		}))
	}
	return p.nodes.templates.put(hclsyntax.TemplateExpr{Parts: p.nodes.exprs.copyOf(parts), SrcRange: srcRange})
}

// startsFor says whether the next token is the keyword "for", which makes
// a bracket a for expression.
func (p *fastParser) startsFor() bool {
	save := *p
	defer func() { *p = save }()
	p.skipBlank()
	if !isIdentStart(p.peek()) {
		return false
	}
	name, _ := p.ident()
	return name == "for"
}

func (p *fastParser) tuple() hclsyntax.Expression {
	open := p.rng(p.i, p.i+1)
	p.i++
	if p.startsFor() {
		p.fail()
		return nil
	}
	var exprBuf [8]hclsyntax.Expression
	exprs := exprBuf[:0]
	for !p.bad {
		p.skipBlank()
		if p.peek() == ']' {
			break
		}
		e := p.expr(true)
		if p.bad {
			return nil
		}
		exprs = append(exprs, e)
		p.skipBlank()
		if p.peek() == ']' {
			break
		}
		if p.peek() != ',' {
			p.fail()
			return nil
		}
		p.i++
	}
	if p.bad {
		return nil
	}
	p.i++
	return p.nodes.tuples.put(hclsyntax.TupleConsExpr{
		Exprs:     p.nodes.exprs.copyOf(exprs),
		SrcRange:  hcl.Range{Filename: p.name, Start: open.Start, End: p.pos(p.i)},
		OpenRange: open,
	})
}

func (p *fastParser) object() hclsyntax.Expression {
	open := p.rng(p.i, p.i+1)
	p.i++
	if p.startsFor() {
		p.fail()
		return nil
	}
	var itemBuf [8]hclsyntax.ObjectConsItem
	items := itemBuf[:0]
	for !p.bad {
		p.skipSpaces()
		if p.peek() == '\n' || p.atComment() {
			p.newline()
			continue
		}
		if p.peek() == '}' {
			break
		}
		if p.peek() == '(' {
			p.fail() // a forced non-literal key
			return nil
		}
		key := p.expr(false)
		if p.bad {
			return nil
		}
		p.skipSpaces()
		if c := p.peek(); !(c == '=' && p.peekAt(1) != '=' || c == ':' && p.peekAt(1) != ':') {
			p.fail()
			return nil
		}
		p.i++
		p.skipSpaces()
		value := p.expr(false)
		if p.bad {
			return nil
		}
		items = append(items, hclsyntax.ObjectConsItem{
			KeyExpr:   p.nodes.keys.put(hclsyntax.ObjectConsKeyExpr{Wrapped: key}),
			ValueExpr: value,
		})
		p.skipSpaces()
		switch c := p.peek(); {
		case c == '}':
		case c == ',':
			p.i++
		case c == '\n' || p.atComment():
			p.newline()
		default:
			p.fail()
			return nil
		}
	}
	if p.bad {
		return nil
	}
	p.i++
	return p.nodes.objects.put(hclsyntax.ObjectConsExpr{
		Items:     p.nodes.items.copyOf(items),
		SrcRange:  hcl.Range{Filename: p.name, Start: open.Start, End: p.pos(p.i)},
		OpenRange: open,
	})
}
