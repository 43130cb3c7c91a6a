package lang

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/userfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/kiln-build/kiln/internal/par"
	"github.com/kiln-build/kiln/stdlib"
)

// refTarget is what a source.TYPE.NAME or stage.NAME expression evaluates
// to. References are opaque capsules rather than objects so that no
// expression can look inside another block (which would make evaluation
// order matter) and so that a reference cannot be mistaken for a string.
type refTarget struct {
	kind, typ, name string
}

var refType = cty.Capsule("reference", reflect.TypeOf(refTarget{}))

func refVal(kind, typ, name string) cty.Value {
	return cty.CapsuleVal(refType, &refTarget{kind: kind, typ: typ, name: name})
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "kiln"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "source", LabelNames: []string{"type", "name"}},
		{Type: "stage", LabelNames: []string{"name"}},
		{Type: "image", LabelNames: []string{"name"}},
		{Type: "artifact", LabelNames: []string{"name"}},
		{Type: "group", LabelNames: []string{"name"}},
	},
}

// evaluator holds the state of one Load.
type evaluator struct {
	l     *Loader
	name  string // the build file as diagnostics name it
	dir   string
	diags hcl.Diagnostics

	funcs map[string]function.Function
	ctx   *hcl.EvalContext

	varDecls   map[string]*varDecl
	localAttrs map[string]*hcl.Attribute
	localVals  map[string]cty.Value
	sources    map[string]map[string]*hcl.Block // type -> name
	stages     map[string]bool

	// instances are the blocks matrix and for_each expanded to, with
	// their values; stageSets the instances of each for_each stage by
	// key (stage.LABEL["KEY"]); instVars, in an instance's fork, the
	// names its expressions may use besides the usual roots.
	instances map[*hcl.Block]instance
	stageSets map[string]map[string]string
	instVars  map[string]bool
	// matrixStages are the labels of stages with matrix, which name no
	// stage themselves: a reference to one is told to name an instance.
	matrixStages map[string]bool

	// where target names are written, for unknown-target errors
	defaultRanges []hcl.Range
	groupRanges   map[string][]hcl.Range

	// stageOut are the stages each stage refers to (stageTargets), set
	// by decodeStageChunks for checkStageCycles.
	stageOut [][]int32
	// plannedStages, when set, are all the stages, named by loadOnePass.
	plannedStages *plannedStages
}

func newEvaluator(l *Loader, name, dir string) *evaluator {
	return &evaluator{
		l:          l,
		name:       name,
		dir:        dir,
		varDecls:   map[string]*varDecl{},
		localAttrs: map[string]*hcl.Attribute{},
		localVals:  map[string]cty.Value{},
		sources:    map[string]map[string]*hcl.Block{},
		stages:     map[string]bool{},
		instances:  map[*hcl.Block]instance{},
		stageSets:  map[string]map[string]string{},

		matrixStages: map[string]bool{},

		groupRanges: map[string][]hcl.Range{},
	}
}

func (e *evaluator) add(ds hcl.Diagnostics) { e.diags = append(e.diags, ds...) }

func (e *evaluator) errorf(rng *hcl.Range, summary, format string, args ...any) {
	e.diags = append(e.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng,
	})
}

// topBlocks are a build file's top-level blocks by kind, in file order,
// as declared: a duplicate or badly named block is reported and left out.
type topBlocks struct {
	kiln *hcl.Block
	variables, locals, sources,
	stages, images, artifacts, groups []*hcl.Block

	// multi are the blocks with matrix or for_each, expanded once
	// variables are bound; implicitGroups the groups that name the
	// instances of an image or artifact by its label.
	multi          []*hcl.Block
	implicitGroups []*Group
	declare        declarer
}

// run evaluates a build file's body.
func (e *evaluator) run(body hcl.Body) *Config {
	cfg, top := e.beforeStages(body, nil)
	cfg.Stages = e.decodeStages(top.stages)
	e.afterStages(cfg, top)
	return cfg
}

// beforeStages evaluates what stage bodies may refer to: functions,
// declarations, variables, locals, the kiln block and sources. stageNames
// are stages declared outside body, valid and distinct, whose blocks the
// caller decodes itself (loadOnePass).
func (e *evaluator) beforeStages(body hcl.Body, stageNames []string) (*Config, *topBlocks) {
	remain := e.functions(body)
	content, ds := sortedContent(remain, rootSchema)
	e.add(ds)

	cfg := &Config{Dir: e.dir, Filename: filepathBase(e.name)}
	// Valid and distinct, these names would be declared without a
	// diagnostic, as their blocks would.
	if len(e.stages) == 0 {
		e.stages = make(map[string]bool, len(stageNames))
	}
	for _, n := range stageNames {
		e.stages[n] = true
	}
	top := e.declare(content.Blocks)

	cfg.Variables = e.bindVariables(top.variables)
	e.ctx = &hcl.EvalContext{Functions: e.funcs, Variables: map[string]cty.Value{
		"var": e.varObject(),
	}}
	cfg.TargetPlatform = e.l.target
	bindPlatformVars(e.ctx.Variables, e.l.target)
	// Instance names must be known before anything may refer to them.
	e.declareInstances(top)
	// References are opaque and known from the declarations alone, so
	// locals may hold them (base = source.image.alpine).
	e.ctx.Variables["source"] = e.sourceObject()
	e.ctx.Variables["stage"] = e.stageObject()
	e.evalLocals(top.locals)
	e.ctx.Variables["local"] = cty.ObjectVal(e.localVals)

	if top.kiln != nil {
		cfg.Project = e.decodeProject(top.kiln)
	}
	for _, s := range decodeAll(e, top.sources, (*evaluator).decodeSource) {
		if s != nil {
			cfg.Sources = append(cfg.Sources, s)
		}
	}
	return cfg, top
}

// functions sets e.funcs, the built-ins and the user's functions, and
// returns the rest of body.
func (e *evaluator) functions(body hcl.Body) hcl.Body {
	builtins := stdlib.Functions(e.dir)
	// User functions see only the built-ins: letting them call each other
	// would allow unbounded recursion, which no error can stop cleanly.
	userFuncs, remain, ds := userfunc.DecodeUserFunctions(body, "function", func() *hcl.EvalContext {
		return &hcl.EvalContext{Functions: builtins}
	})
	e.add(ds)
	e.funcs = make(map[string]function.Function, len(builtins)+len(userFuncs))
	for n, f := range builtins {
		e.funcs[n] = f
	}
	if len(userFuncs) > 0 {
		e.checkUserFuncs(body, builtins)
		for n, f := range userFuncs {
			if _, ok := builtins[n]; !ok {
				e.funcs[n] = f
			}
		}
	}
	return remain
}

// declarer records a declaration at addr (what is a kind of name for the
// error), reporting false after a duplicate.
type declarer func(addr, what string, b *hcl.Block) bool

// declare sorts the top-level blocks by kind, reporting duplicates and
// bad names and leaving those blocks out.
func (e *evaluator) declare(blocks []*hcl.Block) *topBlocks {
	top := &topBlocks{}
	declared := map[string]*hcl.Block{} // address -> first declaration
	var declare declarer = func(addr, what string, b *hcl.Block) bool {
		if prev, ok := declared[addr]; ok {
			how, at, prevAt := "", b.DefRange, prev.DefRange
			in, isInst := e.instances[b]
			if isInst {
				at = in.rng
			}
			pin, prevInst := e.instances[prev]
			if prevInst {
				prevAt = pin.rng
			}
			if isInst || prevInst {
				how = " (a name made by matrix or for_each: set name so that every instance has its own)"
			}
			if isInst && prevInst && at == prevAt {
				e.errorf(&at, "Duplicate "+what,
					"Two instances are named %s: (%s) and (%s); names are unique per kind, so make name use every key of the matrix (or each.key).", addr, pin.describe(), in.describe())
				return false
			}
			e.errorf(&at, "Duplicate "+what,
				"%s is already declared at %s; names are unique per kind, so rename one of them%s.", addr, prevAt, how)
			return false
		}
		declared[addr] = b
		return true
	}
	top.declare = declare
	for _, b := range blocks {
		switch b.Type {
		case "kiln":
			if top.kiln != nil {
				e.errorf(b.DefRange.Ptr(), "Duplicate kiln block", "The kiln block is already declared at %s; merge the two.", top.kiln.DefRange)
				continue
			}
			top.kiln = b
		case "variable":
			if !validName(b.Labels[0]) {
				e.badName(b, "variable")
				continue
			}
			if declare("var."+b.Labels[0], "variable", b) {
				top.variables = append(top.variables, b)
			}
		case "locals":
			top.locals = append(top.locals, b)
		case "source":
			e.declareSource(b, top, declare)
		case "stage":
			if isMulti(b) {
				e.declareMulti(b, top)
				continue
			}
			e.checkNameAlone(b)
			if !validName(b.Labels[0]) {
				e.badName(b, "stage")
				continue
			}
			if declare("stage."+b.Labels[0], "stage", b) {
				e.stages[b.Labels[0]] = true
				top.stages = append(top.stages, b)
			}
		case "image", "artifact":
			if isMulti(b) {
				e.declareMulti(b, top)
				continue
			}
			e.checkNameAlone(b)
			e.declareTarget(b, top, declare)
		case "group":
			e.declareTarget(b, top, declare)
		}
	}
	return top
}

func (e *evaluator) declareSource(b *hcl.Block, top *topBlocks, declare declarer) {
	typ, name := b.Labels[0], b.Labels[1]
	if sourceKindOf[typ] == nil {
		e.errorf(&b.LabelRanges[0], "Unknown source type",
			"There is no source type %q; use one of %s.", typ, strings.Join(sourceTypes, ", "))
		return
	}
	if !validName(name) {
		e.badName(b, "source")
		return
	}
	if declare("source."+typ+"."+name, "source", b) {
		if e.sources[typ] == nil {
			e.sources[typ] = map[string]*hcl.Block{}
		}
		e.sources[typ][name] = b
		top.sources = append(top.sources, b)
	}
}

func (e *evaluator) declareTarget(b *hcl.Block, top *topBlocks, declare declarer) {
	if !validName(b.Labels[0]) {
		e.badName(b, b.Type)
		return
	}
	// Images, artifacts and groups share one namespace: a
	// target name on the command line must mean one thing.
	if !declare("target."+b.Labels[0], "target name", b) {
		return
	}
	switch b.Type {
	case "image":
		top.images = append(top.images, b)
	case "artifact":
		top.artifacts = append(top.artifacts, b)
	default:
		top.groups = append(top.groups, b)
	}
}

// afterStages decodes the targets, which name stages, and checks the
// whole config once cfg.Stages is set.
func (e *evaluator) afterStages(cfg *Config, top *topBlocks) {
	cfg.Images = append(cfg.Images, decodeAll(e, top.images, (*evaluator).decodeImage)...)
	cfg.Artifacts = append(cfg.Artifacts, decodeAll(e, top.artifacts, (*evaluator).decodeArtifact)...)
	for _, b := range top.groups {
		cfg.Groups = append(cfg.Groups, e.decodeGroup(b))
	}
	for _, g := range top.implicitGroups {
		cfg.Groups = append(cfg.Groups, g)
		for range g.Targets {
			e.groupRanges[g.Name] = append(e.groupRanges[g.Name], g.DeclRange)
		}
	}
	e.checkStageCycles(cfg)
	e.checkTargets(cfg)
}

// decodeStages decodes the stage blocks on every core (decodeAll).
func (e *evaluator) decodeStages(blocks []*hcl.Block) []*Stage {
	return decodeAll(e, blocks, (*evaluator).decodeStage)
}

// decodeAll decodes blocks on every core: once the names of all blocks
// are known and variables and locals are evaluated, stage and source
// bodies are independent, and their evaluation is most of a large file's
// load time. Each block is decoded by its own fork of e, whose
// diagnostics are appended in file order afterwards, so the output is the
// same as a serial decode.
func decodeAll[T any](e *evaluator, blocks []*hcl.Block, decode func(*evaluator, *hcl.Block) T) []T {
	out := make([]T, len(blocks))
	diags := make([]hcl.Diagnostics, len(blocks))
	par.Each(len(blocks), func(i int) {
		f := e.forkFor(blocks[i])
		out[i] = decode(f, blocks[i])
		diags[i] = f.diags
	})
	// The instances of one block share its expressions: a mistake in
	// them is reported once, not once per instance.
	seen := map[string]bool{}
	for i, ds := range diags {
		if _, inst := e.instances[blocks[i]]; !inst {
			e.add(ds)
			continue
		}
		for _, d := range ds {
			k := fmt.Sprint(d.Severity, d.Summary, d.Detail, d.Subject)
			if !seen[k] {
				seen[k] = true
				e.add(hcl.Diagnostics{d})
			}
		}
	}
	return out
}

// fork returns an evaluator for decoding blocks concurrently with others:
// it shares e's declarations and evaluation context, which decoding only
// reads, and collects diagnostics of its own.
func (e *evaluator) fork() *evaluator {
	f := *e
	f.diags = nil
	return &f
}

// checkUserFuncs reports user functions that would shadow a built-in:
// a build.hcl that redefines sha256 would read as something it is not.
func (e *evaluator) checkUserFuncs(body hcl.Body, builtins map[string]function.Function) {
	content, _, _ := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "function", LabelNames: []string{"name"}}}})
	if content == nil {
		return
	}
	for _, b := range content.Blocks {
		if _, ok := builtins[b.Labels[0]]; ok {
			e.errorf(&b.LabelRanges[0], "Function name already taken",
				"%s is a built-in function; give your function another name.", b.Labels[0])
		}
	}
}

func (e *evaluator) badName(b *hcl.Block, what string) {
	rng := b.LabelRanges[len(b.LabelRanges)-1]
	e.errorf(&rng, "Invalid "+what+" name",
		"%q is not a valid name: names start with a letter or underscore and hold only letters, digits, underscores and dashes.", b.Labels[len(b.Labels)-1])
}

func validName(s string) bool { return hclsyntax.ValidIdentifier(s) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (e *evaluator) sourceObject() cty.Value {
	types := make(map[string]cty.Value, len(e.sources))
	for typ, names := range e.sources {
		m := make(map[string]cty.Value, len(names))
		for n := range names {
			m[n] = refVal("source", typ, n)
		}
		types[typ] = cty.ObjectVal(m)
	}
	return cty.ObjectVal(types)
}

func (e *evaluator) stageObject() cty.Value {
	if p := e.plannedStages; p != nil && len(e.stageSets) == 0 && len(e.stages) == len(p.names) {
		// Exactly the planned stages: beforeStages declared them all.
		return p.object()
	}
	m := make(map[string]cty.Value, len(e.stages))
	for n := range e.stages {
		m[n] = refVal("stage", "", n)
	}
	for label, set := range e.stageSets {
		keys := make(map[string]cty.Value, len(set))
		for k, n := range set {
			keys[k] = refVal("stage", "", n)
		}
		m[label] = cty.ObjectVal(keys)
	}
	return cty.ObjectVal(m)
}

// plannedStages are stages named before the file is evaluated
// (stagePlan), with their stage object built on another core meanwhile:
// for 10,000 stages it takes milliseconds, serial in beforeStages.
type plannedStages struct {
	names  []string
	object func() cty.Value
}

// planStageObject starts building the stage object of names.
func planStageObject(names []string) *plannedStages {
	ch := make(chan cty.Value, 1)
	go func() {
		m := make(map[string]cty.Value, len(names))
		for _, n := range names {
			m[n] = refVal("stage", "", n)
		}
		ch <- cty.ObjectVal(m)
	}()
	return &plannedStages{names: names, object: sync.OnceValue(func() cty.Value { return <-ch })}
}

// scope says which roots an expression may reference.
type scope int

const (
	scopeConst  scope = iota // variable defaults: nothing
	scopeVars                // validation rules: var
	scopeMatrix              // matrix, for_each and name: var and the instance's values
	scopeLocals              // locals: var, local, source, stage
	scopeAll                 // everything else: the same
)

func stepName(t hcl.Traverser) (string, bool) {
	switch s := t.(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// checkRefs reports every reference in expr that cannot resolve in sc, with
// a message saying what to declare, before evaluation would report the
// same problem less helpfully. It returns false when expr must not be
// evaluated.
func (e *evaluator) checkRefs(expr hcl.Expression, sc scope) bool {
	ok := true
	var buf [4]hcl.Traversal
	for _, t := range appendVariables(buf[:0], expr) {
		root := t.RootName()
		bad := func(summary, format string, args ...any) {
			// The range is worked out only for an error: it walks every
			// step, and most references are fine.
			rng := t.SourceRange()
			e.errorf(&rng, summary, format, args...)
			ok = false
		}
		if sc == scopeConst {
			bad("Variables not allowed", "A variable's default must be a constant: it cannot refer to %s. Compute derived values in locals instead.", root)
			continue
		}
		switch root {
		case "var":
			if len(t) < 2 {
				continue
			}
			if n, _ := stepName(t[1]); e.varDecls[n] == nil {
				bad("Reference to undeclared variable", "No variable %q is declared; add variable %q { ... } or fix the name.", n, n)
			}
		case "local":
			if sc == scopeVars {
				bad("Invalid reference", "A variable's validation can only refer to variables, not to locals.")
				continue
			}
			if sc == scopeMatrix {
				bad("Invalid reference", "matrix, for_each and name can only refer to variables, not to locals: locals may refer to stages, whose names these decide. Move the value into a variable's default.")
				continue
			}
			if len(t) < 2 {
				continue
			}
			if n, _ := stepName(t[1]); e.localAttrs[n] == nil {
				bad("Reference to undeclared local value", "No local value %q is declared; add it to a locals { ... } block or fix the name.", n)
			}
		case "source", "stage":
			if sc == scopeMatrix {
				bad("Invalid reference", "matrix, for_each and name cannot refer to %s blocks: they decide the names blocks are referred to by.", root)
				continue
			}
			if sc < scopeLocals {
				bad("Invalid reference", "Variables cannot refer to %s blocks; use a local value or refer to it where it is used.", root)
				continue
			}
			if root == "stage" {
				if len(t) < 2 {
					continue
				}
				n, _ := stepName(t[1])
				if set := e.stageSets[n]; set != nil {
					if len(t) < 3 {
						continue
					}
					if k, ok := stepName(t[2]); ok && set[k] == "" {
						bad("Reference to undeclared instance", "stage %q has no instance %q (for_each keys: %s); fix the key.", n, k, listOrNone(slices.Sorted(maps.Keys(set))))
					}
					continue
				}
				if !e.stages[n] && e.matrixStages[n] {
					bad("Reference to a matrix", "stage %q has a matrix and stands for its instances; refer to one by its name, like stage.NAME-VALUE or stage[\"NAME-${...}\"] (see its name attribute).", n)
					continue
				}
				if !e.stages[n] {
					bad("Reference to undeclared stage", "No stage %q is declared; add stage %q { ... } or fix the name.", n, n)
				}
				continue
			}
			if len(t) < 3 {
				bad("Incomplete source reference", "A source is referred to as source.TYPE.NAME, for example source.image.base.")
				continue
			}
			typ, _ := stepName(t[1])
			n, _ := stepName(t[2])
			if e.sources[typ][n] == nil {
				bad("Reference to undeclared source", "No source %q %q is declared; add source %q %q { ... } or fix the name.", typ, n, typ, n)
			}
		case "image", "artifact", "group":
			bad("Invalid reference", "%s blocks are outputs and cannot be referred to; refer to the stage or source they are built from instead.", root)
		default:
			if e.instVars[root] {
				continue
			}
			if platformVar(root) {
				if sc < scopeLocals {
					bad("Invalid reference", "%s is known only once a block is compiled for a platform: variables, matrix, for_each and name cannot use it, as they decide which blocks exist. Use it in locals, sources and stages.", root)
				}
				continue
			}
			hint := ""
			if root == "each" {
				hint = " each.key and each.value exist only in a block with for_each."
			}
			bad("Unknown variable", "There is no variable named %q. Values come from var.NAME, local.NAME, source.TYPE.NAME, stage.NAME, build_platform and target_platform, target_os, target_arch, target_variant.%s", root, hint)
		}
	}
	return ok
}

// appendVariables appends the traversals expr.Variables() returns, in its
// order. It walks the nodes build files are made of itself, without the
// walker and the slice Variables allocates on every call; the rest, for
// expressions with their local scopes among them, it leaves to hcl.
func appendVariables(dst []hcl.Traversal, expr hcl.Expression) []hcl.Traversal {
	switch x := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
	case *hclsyntax.ScopeTraversalExpr:
		dst = append(dst, x.Traversal)
	case *hclsyntax.TemplateExpr:
		for _, p := range x.Parts {
			dst = appendVariables(dst, p)
		}
	case *hclsyntax.TemplateWrapExpr:
		dst = appendVariables(dst, x.Wrapped)
	case *hclsyntax.TupleConsExpr:
		for _, el := range x.Exprs {
			dst = appendVariables(dst, el)
		}
	case *hclsyntax.ObjectConsExpr:
		for _, it := range x.Items {
			dst = appendVariables(dst, it.KeyExpr)
			dst = appendVariables(dst, it.ValueExpr)
		}
	case *hclsyntax.FunctionCallExpr:
		for _, arg := range x.Args {
			dst = appendVariables(dst, arg)
		}
	case *hclsyntax.ObjectConsKeyExpr:
		// A bare name as a key is the name, not a reference.
		if hcl.ExprAsKeyword(x.Wrapped) == "" {
			dst = appendVariables(dst, x.Wrapped)
		}
	default:
		dst = append(dst, expr.Variables()...)
	}
	return dst
}

// value evaluates expr in the full context. It returns false, having
// reported why, when the value cannot be used; unknown values stand for
// earlier errors and are dropped silently.
func (e *evaluator) value(expr hcl.Expression, sc scope) (cty.Value, bool) {
	if v, ok := literal(expr); ok {
		return v, true
	}
	if !e.checkRefs(expr, sc) {
		return cty.NilVal, false
	}
	ctx := e.ctx
	if sc == scopeConst {
		ctx = &hcl.EvalContext{Functions: e.funcs}
	}
	v, ds := expr.Value(ctx)
	e.add(ds)
	if ds.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

// literal returns the value of expr if it is a constant hcl evaluates to
// itself: a literal, a string without interpolation, or a tuple of those.
// They are most attributes of a large build file, and skipping the walk
// for references and the evaluation machinery for them is a large part
// of its decode time. The values are exactly those Expr.Value returns.
func literal(expr hcl.Expression) (cty.Value, bool) {
	switch x := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return x.Val, true
	case *hclsyntax.TemplateExpr:
		// A one-part template renders to its part converted to a string;
		// a literal string part (the parser's, unmarked and known) is that
		// string already.
		if !x.IsStringLiteral() {
			return cty.NilVal, false
		}
		v := x.Parts[0].(*hclsyntax.LiteralValueExpr).Val
		if v.Type() != cty.String || v.IsNull() || !v.IsKnown() || v.IsMarked() {
			return cty.NilVal, false
		}
		return v, true
	case *hclsyntax.TupleConsExpr:
		if len(x.Exprs) == 0 {
			return cty.NilVal, false
		}
		vals := make([]cty.Value, len(x.Exprs))
		for i, el := range x.Exprs {
			v, ok := literal(el)
			if !ok {
				return cty.NilVal, false
			}
			vals[i] = v
		}
		return cty.TupleVal(vals), true
	}
	return cty.NilVal, false
}

// evalLocals evaluates every local value in dependency order, found with
// Expression.Variables() so that nothing is evaluated twice or too early.
func (e *evaluator) evalLocals(blocks []*hcl.Block) {
	var order []string
	for _, b := range blocks {
		attrs, ds := b.Body.JustAttributes()
		e.add(ds)
		names := make([]string, 0, len(attrs))
		for n := range attrs {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte
		})
		for _, n := range names {
			a := attrs[n]
			if prev, ok := e.localAttrs[n]; ok {
				e.errorf(a.NameRange.Ptr(), "Duplicate local value",
					"local.%s is already declared at %s; rename one of them.", n, prev.NameRange)
				continue
			}
			e.localAttrs[n] = a
			order = append(order, n)
		}
	}
	g := newGraph()
	for _, n := range order {
		g.addNode(n)
		for _, t := range e.localAttrs[n].Expr.Variables() {
			if t.RootName() != "local" || len(t) < 2 {
				continue
			}
			if dep, ok := stepName(t[1]); ok && e.localAttrs[dep] != nil {
				g.addEdge(n, dep, "", t.SourceRange())
			}
		}
	}
	cyclic := e.reportCycles(g, "local values", func(n string) string { return "local." + n })
	for _, n := range g.postorder() {
		if cyclic[n] {
			e.localVals[n] = cty.DynamicVal
			continue
		}
		e.ctx.Variables["local"] = cty.ObjectVal(e.localVals)
		v, ok := e.value(e.localAttrs[n].Expr, scopeLocals)
		if !ok {
			v = cty.DynamicVal
		}
		e.localVals[n] = v
	}
}

// convertAttr evaluates a and converts it to ty. The bool is false when the
// attribute is null (unset) or broken (reported).
func (e *evaluator) convertAttr(a *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	v, ok := e.value(a.Expr, scopeAll)
	if !ok || v.IsNull() {
		return cty.NilVal, false
	}
	return e.convertValue(a, v, ty)
}

// convertValue converts v, the value of a, to ty.
func (e *evaluator) convertValue(a *hcl.Attribute, v cty.Value, ty cty.Type) (cty.Value, bool) {
	cv, err := convert.Convert(v, ty)
	if err != nil {
		hint := ""
		if v.Type() == refType {
			hint = " References to stages and sources can only be used where a state is expected (from)."
		}
		e.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s.%s", a.Name, err.Error(), hint)
		return cty.NilVal, false
	}
	if !cv.IsWhollyKnown() {
		return cty.NilVal, false
	}
	if cv.Type().IsCollectionType() || cv.Type().IsObjectType() {
		for it := cv.ElementIterator(); it.Next(); {
			_, el := it.Element()
			if el.IsNull() {
				e.errorf(a.Expr.Range().Ptr(), "Invalid attribute value",
					"Attribute %q holds a null element; remove it or give a value.", a.Name)
				return cty.NilVal, false
			}
		}
	}
	return cv, true
}

func filepathBase(name string) string {
	i := strings.LastIndexAny(name, `/\`)
	return name[i+1:]
}
