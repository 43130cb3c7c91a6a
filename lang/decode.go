package lang

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/kiln-build/kiln/internal/infolder"
	"github.com/kiln-build/kiln/internal/platform"
)

// attrs is one block's evaluated attributes, read by type.
type attrs struct {
	e     *evaluator
	attrs hcl.Attributes
	// syn, when set, stands for attrs: a clean native-syntax body's own
	// attributes, read without building hcl's copies (see at).
	syn hclsyntax.Attributes
}

// at returns the attribute name, or nil. For a clean native-syntax body
// it makes hcl's view of the attribute here, where it is small enough to
// be inlined and the view can stay on the caller's stack.
func (a attrs) at(name string) *hcl.Attribute {
	if a.syn != nil {
		if s := a.syn[name]; s != nil {
			return s.AsHCLAttribute()
		}
		return nil
	}
	return a.attrs[name]
}

// content decodes body's attributes and blocks by schema, reporting what
// does not fit it.
func (e *evaluator) content(body hcl.Body, schema *hcl.BodySchema) (blockList, attrs) {
	if b, ok := cleanBody(body, schema); ok && !e.l.generalDecode {
		syn := b.Attributes
		if syn == nil {
			syn = hclsyntax.Attributes{}
		}
		return blockList{syn: b.Blocks}, attrs{e: e, syn: syn}
	}
	c, ds := sortedContent(body, schema)
	e.add(ds)
	return blockList{hcl: c.Blocks}, attrs{e: e, attrs: c.Attributes}
}

// sortedContent is body.Content(schema) with the diagnostics in file
// order: hcl reports unexpected attributes in map order, and the same file
// must always print the same errors.
func sortedContent(body hcl.Body, schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, ds := body.Content(schema)
	slices.SortStableFunc(ds, func(a, b *hcl.Diagnostic) int {
		if a.Subject == nil || b.Subject == nil {
			return 0
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
	return c, ds
}

// blockList is a body's blocks, as hcl's Content returns them or, for a
// clean native-syntax body, as the syntax tree holds them.
type blockList struct {
	hcl hcl.Blocks
	syn hclsyntax.Blocks
}

func (l blockList) len() int { return len(l.hcl) + len(l.syn) }

// at returns block i. hcl's view of a syntax block is written to *view,
// which the caller keeps on its stack: decoding never holds on to it.
func (l blockList) at(i int, view *hcl.Block) *hcl.Block {
	if i < len(l.hcl) {
		return l.hcl[i]
	}
	*view = *l.syn[i].AsHCLBlock()
	return view
}

// cleanBody returns body as a native-syntax body if it fits schema
// exactly: every attribute and block known, labels counted right, nothing
// required missing. hcl's Content then has nothing to report, and its
// result can be read straight off the syntax tree, without the copies of
// every attribute and the remainder body's bookkeeping that Content builds
// (a third of the allocations of decoding a large build file).
func cleanBody(body hcl.Body, schema *hcl.BodySchema) (*hclsyntax.Body, bool) {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil, false
	}
	for name := range b.Attributes {
		if !slices.ContainsFunc(schema.Attributes, func(s hcl.AttributeSchema) bool { return s.Name == name }) {
			return nil, false
		}
	}
	for _, s := range schema.Attributes {
		if s.Required && b.Attributes[s.Name] == nil {
			return nil, false
		}
	}
	for _, blk := range b.Blocks {
		i := slices.IndexFunc(schema.Blocks, func(s hcl.BlockHeaderSchema) bool { return s.Type == blk.Type })
		if i < 0 || len(schema.Blocks[i].LabelNames) != len(blk.Labels) {
			return nil, false
		}
	}
	return b, true
}

func (a attrs) has(name string) bool {
	if a.syn != nil {
		return a.syn[name] != nil
	}
	return a.attrs[name] != nil
}

func (a attrs) rng(name string) *hcl.Range {
	if at := a.at(name); at != nil {
		return at.Expr.Range().Ptr()
	}
	return nil
}

func (a attrs) get(name string, ty cty.Type) (cty.Value, bool) {
	at := a.at(name)
	if at == nil {
		return cty.NilVal, false
	}
	return a.e.convertAttr(at, ty)
}

func (a attrs) str(name string) string {
	s, _ := a.strOK(name)
	return s
}

// strOK is str that also says whether the attribute holds a usable value.
func (a attrs) strOK(name string) (string, bool) {
	at := a.at(name)
	if at == nil {
		return "", false
	}
	if s, ok := a.e.plainString(at.Expr); ok {
		// As value would: a reference it cannot resolve is reported,
		// and the attribute is then unusable.
		if !a.e.checkRefs(at.Expr, scopeAll) {
			return "", false
		}
		return s, true
	}
	v, ok := a.e.convertAttr(at, cty.String)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func (a attrs) boolean(name string) bool {
	v, ok := a.get(name, cty.Bool)
	return ok && v.True()
}

func (a attrs) strs(name string) []string {
	at := a.at(name)
	if at == nil {
		return nil
	}
	if ss, ok := a.e.literalStrings(at.Expr); ok {
		return ss
	}
	v, ok := a.e.value(at.Expr, scopeAll)
	if !ok || v.IsNull() {
		return nil
	}
	out, _ := a.strsOf(at, v)
	return out
}

// literalStrings reads a tuple of literal strings, ["a", "b"], straight
// off the syntax tree: the list of strings its value converts to, without
// building the tuple and the list.
func (e *evaluator) literalStrings(expr hcl.Expression) ([]string, bool) {
	t, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok || len(t.Exprs) == 0 || e.l.generalDecode {
		return nil, false
	}
	out := make([]string, len(t.Exprs))
	for i, el := range t.Exprs {
		v, ok := literal(el)
		if !ok || v.Type() != cty.String {
			return nil, false
		}
		out[i] = v.AsString()
	}
	return out, true
}

// strsOf converts an evaluated value to a list of strings; the bool is
// false when it is not one (reported).
func (a attrs) strsOf(at *hcl.Attribute, v cty.Value) ([]string, bool) {
	v, ok := a.e.convertValue(at, v, cty.List(cty.String))
	if !ok {
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, el := it.Element()
		out = append(out, el.AsString())
	}
	return out, true
}

// strOrStrs reads a string or a list of strings (copy's src).
func (a attrs) strOrStrs(name string) ([]string, bool) {
	at := a.at(name)
	if at == nil {
		return nil, false
	}
	if ss, ok := a.e.literalStrings(at.Expr); ok {
		return ss, true
	}
	v, ok := a.e.value(at.Expr, scopeAll)
	if !ok || v.IsNull() {
		return nil, false
	}
	if v.Type().IsPrimitiveType() {
		s, ok := a.e.convertValue(at, v, cty.String)
		if !ok {
			return nil, false
		}
		return []string{s.AsString()}, true
	}
	return a.strsOf(at, v)
}

func (a attrs) strMap(name string) map[string]string {
	at := a.at(name)
	if at == nil {
		return nil
	}
	if m, ok := a.e.objectStrings(at.Expr); ok {
		return m
	}
	v, ok := a.get(name, cty.Map(cty.String))
	if !ok {
		return nil
	}
	out := make(map[string]string, v.LengthInt())
	for k, el := range v.AsValueMap() {
		out[k] = el.AsString()
	}
	return out
}

// objectStrings reads an object constructor with ASCII names for keys and
// values that evaluate to strings, { A = "x", B = var.y }, item by item:
// the map of strings its value converts to, without building the object,
// the converted map and its copy. It returns false for anything else and
// for any item that would need a diagnostic, having reported nothing, and
// the caller evaluates the whole expression as usual. Unknown references
// are the exception: they are reported here as value would.
func (e *evaluator) objectStrings(expr hcl.Expression) (map[string]string, bool) {
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok || e.l.generalDecode {
		return nil, false
	}
	if !e.checkRefs(obj, scopeAll) {
		return nil, true
	}
	out := make(map[string]string, len(obj.Items))
	for _, it := range obj.Items {
		k, ok := literalKey(it.KeyExpr)
		if _, dup := out[k]; !ok || dup {
			return nil, false
		}
		if s, ok := e.plainString(it.ValueExpr); ok {
			out[k] = s
			continue
		}
		v, ds := it.ValueExpr.Value(e.ctx)
		if len(ds) > 0 {
			return nil, false
		}
		if v.IsMarked() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return nil, false
		}
		out[k] = v.AsString()
	}
	return out, true
}

// plainString reads a string without hcl's evaluation: a literal, a
// plain reference to a string value (var.NAME, local.NAME, an instance's
// value) or a template of those, "x-${var.v}". Traversing the variable
// objects and rendering the template through hcl is most of what reading
// such a value costs in a large file. It returns false, having reported
// nothing, for any other expression and any value that is not a known,
// non-null, unmarked string; the caller then evaluates as usual. It does
// not check references (checkRefs): a reference that resolves here is
// one evaluation resolves the same way.
func (e *evaluator) plainString(expr hcl.Expression) (string, bool) {
	if e.l.generalDecode {
		return "", false
	}
	switch x := expr.(type) {
	case *hclsyntax.ScopeTraversalExpr:
		return e.plainVar(x.Traversal)
	case *hclsyntax.TemplateExpr:
		if len(x.Parts) == 1 {
			if s, ok := literalString(x.Parts[0]); ok {
				return s, true
			}
		}
		// hcl renders each part converted to a string into a buffer,
		// then makes the result with cty.StringVal (see below).
		var parts [8]string
		if len(x.Parts) > len(parts) {
			return "", false
		}
		n, ascii := 0, true
		for i, p := range x.Parts {
			s, ok := literalString(p)
			if !ok {
				tr, isRef := p.(*hclsyntax.ScopeTraversalExpr)
				if !isRef {
					return "", false
				}
				if s, ok = e.plainVar(tr.Traversal); !ok {
					return "", false
				}
			}
			parts[i] = s
			n += len(s)
			for j := 0; j < len(s) && ascii; j++ {
				ascii = s[j] < 0x80
			}
		}
		var b strings.Builder
		b.Grow(n)
		for _, s := range parts[:len(x.Parts)] {
			b.WriteString(s)
		}
		if !ascii {
			// cty.StringVal normalises to NFC, which a concatenation
			// of normalised strings need not be; ASCII is its own NFC.
			return cty.StringVal(b.String()).AsString(), true
		}
		return b.String(), true
	}
	return literalString(expr)
}

// literalString is the string a literal expression stands for (literal).
func literalString(expr hcl.Expression) (string, bool) {
	v, ok := literal(expr)
	if !ok || v.Type() != cty.String || v.IsNull() || !v.IsKnown() || v.IsMarked() {
		return "", false
	}
	return v.AsString(), true
}

// plainVar is the string value of the traversal NAME or NAME.ATTR, looked
// up in the evaluation context as hcl's TraverseAbs and GetAttr do, when
// nothing along the way needs a diagnostic or is unknown, null or marked.
func (e *evaluator) plainVar(t hcl.Traversal) (string, bool) {
	if len(t) == 0 || len(t) > 2 {
		return "", false
	}
	root, ok := t[0].(hcl.TraverseRoot)
	if !ok {
		return "", false
	}
	var v cty.Value
	found := false
	for c := e.ctx; c != nil && !found; c = c.Parent() {
		v, found = c.Variables[root.Name]
	}
	if !found {
		return "", false
	}
	if len(t) == 2 {
		attr, ok := t[1].(hcl.TraverseAttr)
		if !ok || v.IsMarked() || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(attr.Name) {
			return "", false
		}
		v = v.GetAttr(attr.Name)
	}
	if v.IsMarked() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// literalKey is the name an object key stands for when it is a bare ASCII
// name or a literal ASCII string (beyond ASCII, cty normalizes names).
func literalKey(expr hcl.Expression) (string, bool) {
	k, ok := expr.(*hclsyntax.ObjectConsKeyExpr)
	if !ok || k.ForceNonLiteral {
		return "", false
	}
	var name string
	switch w := k.Wrapped.(type) {
	case *hclsyntax.ScopeTraversalExpr:
		if len(w.Traversal) != 1 {
			return "", false
		}
		name = w.Traversal.RootName()
	default:
		v, ok := literal(w)
		if !ok || v.Type() != cty.String {
			return "", false
		}
		name = v.AsString()
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return "", false
		}
	}
	return name, true
}

// env reads an environment map and checks its names.
func (a attrs) env(name string) map[string]string {
	m := a.strMap(name)
	for k := range m {
		if !validEnvName(k) {
			a.e.errorf(a.rng(name), "Invalid environment variable name",
				"%q cannot be an environment variable name: use letters, digits and underscores, not starting with a digit.", k)
		}
	}
	return m
}

// validEnvName says whether s matches ^[A-Za-z_][A-Za-z0-9_]*$, without
// the regular expression machinery: every stage's env names are checked.
func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (a attrs) integer(name string) (int64, bool) {
	v, ok := a.get(name, cty.Number)
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 {
		a.e.errorf(a.rng(name), "Invalid attribute value", "Attribute %q must be a whole number.", name)
		return 0, false
	}
	return n, true
}

// parsed reads a string attribute through parse, reporting at the
// attribute.
func (a attrs) parsed(name string, parse func(string) error) (string, bool) {
	if !a.has(name) {
		return "", false
	}
	s := a.str(name)
	if s == "" {
		return "", false
	}
	if err := parse(s); err != nil {
		a.e.errorf(a.rng(name), "Invalid "+strings.ReplaceAll(name, "_", " "), "Attribute %q: %s.", name, err)
		return "", false
	}
	return s, true
}

func (a attrs) size(name string) int64 {
	var n int64
	a.parsed(name, func(s string) (err error) { n, err = parseSize(s); return })
	return n
}

func (a attrs) duration(name string) int64 {
	var n int64
	a.parsed(name, func(s string) (err error) { n, err = parseDuration(s); return })
	return n
}

func (a attrs) mode(name string) (string, uint32) {
	var m string
	var n uint32
	a.parsed(name, func(s string) (err error) { m, n, err = parseMode(s); return })
	return m, n
}

func (a attrs) oneOf(name string, allowed ...string) string {
	s, _ := a.parsed(name, func(s string) error {
		if !contains(allowed, s) {
			return fmt.Errorf("%q is not allowed; use one of %s", s, strings.Join(allowed, ", "))
		}
		return nil
	})
	return s
}

func (a attrs) platforms(name string) []string {
	ps := a.strs(name)
	for _, p := range ps {
		if err := checkPlatform(p); err != nil {
			a.e.errorf(a.rng(name), "Invalid platform", "%s.", err)
		}
	}
	return ps
}

// platformsOnce refuses a block's platforms that name one platform twice,
// in one spelling or two (linux/amd64 and linux/x86_64): its index would
// list the platform twice. Unparsable ones were reported by platforms.
func (e *evaluator) platformsOnce(address string, ps []string, rng *hcl.Range) {
	seen := map[string]string{}
	for _, s := range ps {
		p, err := platform.Parse(s)
		if err != nil {
			continue
		}
		key := platform.Format(platform.Normalize(p))
		if prev, ok := seen[key]; ok {
			how := "twice"
			if prev != s {
				how = fmt.Sprintf("as %q and %q, one platform once normalised", prev, s)
			}
			e.errorf(rng, "Platform listed twice", "%s lists platform %s %s; list each platform once (in %s).", address, key, how, strings.Join(ps, ", "))
			return
		}
		seen[key] = s
	}
}

func (a attrs) platform(name string) string {
	s, _ := a.parsed(name, checkPlatform)
	return s
}

func (a attrs) required(b *hcl.Block, name, what string) bool {
	if a.has(name) {
		return true
	}
	a.e.errorf(b.DefRange.Ptr(), "Missing required argument", "The argument %q is required: %s.", name, what)
	return false
}

// ref reads a state reference: stage.NAME, source.TYPE.NAME, "scratch" or
// null.
func (a attrs) ref(name string) Ref {
	at := a.at(name)
	if at == nil {
		return Ref{}
	}
	rng := at.Expr.Range()
	if t, ok := a.e.plainRef(at.Expr); ok {
		return Ref{Kind: t.kind, Type: t.typ, Name: t.name, Range: rng}
	}
	v, ok := a.e.value(at.Expr, scopeAll)
	if !ok || v.IsNull() {
		return Ref{Range: rng}
	}
	if v.Type() == refType {
		t := v.EncapsulatedValue().(*refTarget)
		return Ref{Kind: t.kind, Type: t.typ, Name: t.name, Range: rng}
	}
	if v.Type() == cty.String && v.AsString() == "scratch" {
		return Ref{Range: rng}
	}
	hint := ""
	if v.Type().IsObjectType() {
		hint = " A stage with for_each stands for all its instances; pick one, like stage.NAME[\"KEY\"]."
	}
	if v.Type() == cty.String {
		hint = fmt.Sprintf(" To build on the image %q, declare source \"image\" \"NAME\" { ref = %q } and write from = source.image.NAME.", v.AsString(), v.AsString())
	}
	// A copy for the diagnostic, so that rng itself stays on the stack.
	subject := rng
	a.e.errorf(&subject, "Invalid reference", "Attribute %q must be a state: stage.NAME, source.TYPE.NAME or \"scratch\".%s", name, hint)
	return Ref{Range: rng}
}

// plainRef resolves stage.NAME and source.TYPE.NAME, written as plain
// names, straight from the declarations to the target evaluation gives:
// hcl's traversal of the stage and source objects, with an attribute per
// declaration, is most of the cost of reading a reference in a large
// file. Anything else takes the general path, which reports what needs
// reporting: a name not declared, a for_each stage (which stands for an
// object of instances), an index step, and an instance's fork, whose own
// values might shadow the roots.
func (e *evaluator) plainRef(expr hcl.Expression) (refTarget, bool) {
	x, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || e.l.generalDecode || e.instVars != nil {
		return refTarget{}, false
	}
	t := x.Traversal
	attr := func(i int) string {
		if s, ok := t[i].(hcl.TraverseAttr); ok {
			return s.Name
		}
		return ""
	}
	switch {
	case len(t) == 2 && t.RootName() == "stage":
		if n := attr(1); e.stages[n] && e.stageSets[n] == nil {
			return refTarget{kind: "stage", name: n}, true
		}
	case len(t) == 3 && t.RootName() == "source":
		if typ, n := attr(1), attr(2); e.sources[typ][n] != nil {
			return refTarget{kind: "source", typ: typ, name: n}, true
		}
	}
	return refTarget{}, false
}

func (a attrs) limits() Limits {
	var l Limits
	l.MemoryBytes = a.size("memory")
	if n, ok := a.integer("pids"); ok {
		if n < 1 {
			a.e.errorf(a.rng("pids"), "Invalid pids", "Attribute \"pids\" must be at least 1.")
		} else {
			l.Pids = n
		}
	}
	l.TimeoutSec = a.duration("timeout")
	return l
}

func (a attrs) absPath(name string) string {
	s, _ := a.parsed(name, func(s string) error {
		if !strings.HasPrefix(s, "/") {
			return fmt.Errorf("%q is not an absolute path; write it from the root, like \"/%s\"", s, s)
		}
		return nil
	})
	return s
}

// --- kiln ---

var projectSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "source_date_epoch"}, {Name: "platform"}, {Name: "default"},
	{Name: "cache_from"}, {Name: "cache_to"},
}}

func (e *evaluator) decodeProject(b *hcl.Block) Project {
	_, a := e.content(b.Body, projectSchema)
	p := Project{Range: b.DefRange}
	if n, ok := a.integer("source_date_epoch"); ok {
		if n < 0 {
			e.errorf(a.rng("source_date_epoch"), "Invalid source_date_epoch", "source_date_epoch is seconds since 1970 and cannot be negative.")
		} else {
			p.SourceDateEpoch = &n
		}
	}
	p.Platform = a.platform("platform")
	p.Default, e.defaultRanges = e.targetList(a, "default")
	p.CacheFrom, p.CacheTo = cacheSpecs(a, "cache_from"), cacheSpecs(a, "cache_to")
	return p
}

// cacheSpecs reads a string or a list of strings, each with the range of
// its own element when the list is written out, so that a bad spec is
// pointed at.
func cacheSpecs(a attrs, name string) []CacheSpec {
	ss, ok := a.strOrStrs(name)
	if !ok {
		return nil
	}
	at := a.at(name)
	out := make([]CacheSpec, len(ss))
	t, tuple := at.Expr.(*hclsyntax.TupleConsExpr)
	for i, s := range ss {
		out[i] = CacheSpec{Spec: s, Range: at.Expr.Range()}
		if tuple && len(t.Exprs) == len(ss) {
			out[i].Range = t.Exprs[i].Range()
		}
	}
	return out
}

// relPath reads a path relative to the build file's folder and keeps it
// inside: a build that reads outside its repository is not reproducible
// from a checkout.
func (e *evaluator) relPath(a attrs, name string) string {
	s, ok := a.parsed(name, func(s string) error {
		if path.IsAbs(s) {
			return fmt.Errorf("%q is absolute; write it relative to the build file's folder", s)
		}
		c := path.Clean(s)
		if c == ".." || strings.HasPrefix(c, "../") {
			return fmt.Errorf("%q is outside the build file's folder; only its folder and sub-folders can be sources", s)
		}
		// A symlink would take the source outside all the same: a checkout
		// could hand the host's /etc to the build through one.
		if _, err := infolder.Join(e.dir, filepath.FromSlash(c)); err != nil {
			return fmt.Errorf("%q leads through a symlink outside the build file's folder; only its folder and sub-folders can be sources, so replace the symlink with the files or point path at a folder inside", s)
		}
		return nil
	})
	if !ok {
		return "."
	}
	return path.Clean(s)
}
