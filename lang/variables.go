package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/kiln-build/kiln/internal/infolder"
)

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message", Required: true}},
}

// varDecl is a declared variable and the value bound to it so far.
type varDecl struct {
	block       *hcl.Block
	ty          cty.Type
	validations []*hcl.Block
	val         cty.Value // cty.NilVal while unset
	from        string    // where val came from, for messages
	broken      bool
}

// AutoVarsSuffix names the variable files loaded from the build file's
// folder without being asked for.
const AutoVarsSuffix = ".kilnvars.hcl"

// EnvVarPrefix prefixes environment variables that set variables.
const EnvVarPrefix = "KILN_VAR_"

// bindVariables gives each variable its value. Precedence, from weakest to
// strongest: default, *.kilnvars.hcl (sorted by name), KILN_VAR_NAME,
// --var-file (in order), --var. The environment sits below the explicit
// files and flags because it is ambient: what a user types or names for
// this build must win over what happens to be exported in the shell.
func (e *evaluator) bindVariables(blocks []*hcl.Block) map[string]string {
	for _, b := range blocks {
		e.declareVariable(b)
	}
	e.bindAutoFiles()
	e.bindEnviron()
	for _, p := range e.l.opts.VarFiles {
		e.bindFile(p, p)
	}
	e.bindFlags()

	out := make(map[string]string, len(e.varDecls))
	for _, b := range blocks {
		n := b.Labels[0]
		d := e.varDecls[n]
		if d.broken {
			continue
		}
		if d.val == cty.NilVal {
			e.errorf(b.DefRange.Ptr(), "No value for required variable",
				"var.%s has no default and no value was given; set it with --var %s=VALUE, %s%s=VALUE in the environment, or a *%s file.", n, n, EnvVarPrefix, n, AutoVarsSuffix)
			d.broken = true
			continue
		}
		out[n] = render(d.val)
	}
	e.validateVariables(blocks)
	return out
}

// declareVariable reads a variable block: its type, description and
// default.
func (e *evaluator) declareVariable(b *hcl.Block) {
	d := &varDecl{block: b, ty: cty.DynamicPseudoType}
	e.varDecls[b.Labels[0]] = d
	content, ds := sortedContent(b.Body, variableSchema)
	e.add(ds)
	if a := content.Attributes["type"]; a != nil {
		ty, ds := typeexpr.TypeConstraint(a.Expr)
		e.add(ds)
		if ds.HasErrors() {
			d.broken = true
		} else {
			d.ty = ty
		}
	}
	if a := content.Attributes["description"]; a != nil {
		if v, ok := e.value(a.Expr, scopeConst); ok && (v.Type() != cty.String || v.IsNull()) {
			e.errorf(a.Expr.Range().Ptr(), "Invalid description", "A description must be a string.")
		}
	}
	if a := content.Attributes["default"]; a != nil && !d.broken {
		if v, ok := e.value(a.Expr, scopeConst); ok && !v.IsNull() {
			cv, err := convert.Convert(v, d.ty)
			if err != nil {
				e.errorf(a.Expr.Range().Ptr(), "Invalid default value for variable",
					"The default of var.%s does not match its type %s: %s.", b.Labels[0], typeexpr.TypeString(d.ty), err)
				d.broken = true
			} else {
				d.val, d.from = cv, "its default"
			}
		}
	}
	for _, vb := range content.Blocks {
		d.validations = append(d.validations, vb)
	}
}

// bindAutoFiles binds the *.kilnvars.hcl files of the build folder, sorted
// so that the result does not depend on readdir.
func (e *evaluator) bindAutoFiles() {
	auto, _ := filepath.Glob(filepath.Join(e.dir, "*"+AutoVarsSuffix))
	sort.Strings(auto)
	for _, p := range auto {
		name := filepath.Join(filepath.Dir(e.name), filepath.Base(p))
		// Found, not named: the folder may be an untrusted checkout, and a
		// symlink to a host file would be read and quoted in diagnostics.
		if _, err := infolder.Join(e.dir, filepath.Base(p)); err != nil {
			e.errorf(nil, "Variables file outside the build folder",
				"%s is a symlink leading outside the build file's folder; kiln reads *%s files only from inside it. Replace the symlink with the file, or name a file you trust with --var-file.", name, AutoVarsSuffix)
			continue
		}
		e.bindFile(name, p)
	}
}

// bindEnviron binds the KILN_VAR_NAME variables of kiln's environment.
func (e *evaluator) bindEnviron() {
	for _, kv := range e.l.opts.Environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvVarPrefix) {
			continue
		}
		name := strings.TrimPrefix(k, EnvVarPrefix)
		// Unknown names are ignored: the environment is shared with
		// other builds that declare other variables.
		if d := e.varDecls[name]; d != nil {
			e.bindString(d, name, v, "the environment variable "+k)
		}
	}
}

// bindFlags binds the --var flags, which must name declared variables.
func (e *evaluator) bindFlags() {
	names := make([]string, 0, len(e.l.opts.Vars))
	for n := range e.l.opts.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := e.varDecls[n]
		if d == nil {
			e.errorf(nil, "Value for undeclared variable",
				"--var sets %q, but %s declares no variable %q; declare it with variable %q { ... } or drop the --var.", n, e.name, n, n)
			continue
		}
		e.bindString(d, n, e.l.opts.Vars[n], "--var "+n)
	}
}

// render shows a value as a user would write it on the command line.
func render(v cty.Value) string {
	if v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
		return v.AsString()
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return v.GoString()
	}
	return string(b)
}

// bindString binds a value given as text (flag or environment): taken
// literally for strings, parsed as an HCL expression otherwise.
func (e *evaluator) bindString(d *varDecl, name, raw, from string) {
	if d.broken {
		return
	}
	if d.ty == cty.String || d.ty == cty.DynamicPseudoType {
		d.val, d.from = cty.StringVal(raw), from
		return
	}
	rng := d.block.DefRange
	bad := func(why string) {
		e.errorf(&rng, "Invalid value for variable",
			"%s=%q is not a valid %s for var.%s: %s. Give a value of that type, written as in build.hcl (strings quoted inside lists and maps).",
			from, raw, typeexpr.TypeString(d.ty), name, why)
		d.broken = true
	}
	if d.ty.IsPrimitiveType() {
		cv, err := convert.Convert(cty.StringVal(strings.TrimSpace(raw)), d.ty)
		if err != nil {
			bad(err.Error())
			return
		}
		d.val, d.from = cv, from
		return
	}
	expr, ds := hclsyntax.ParseExpression([]byte(raw), fmt.Sprintf("<value for var.%s>", name), hcl.InitialPos)
	if ds.HasErrors() {
		bad(ds[0].Summary)
		return
	}
	if len(expr.Variables()) > 0 {
		bad("it refers to a variable; only constant values are allowed")
		return
	}
	v, ds := expr.Value(nil)
	if ds.HasErrors() {
		bad(ds[0].Summary)
		return
	}
	cv, err := convert.Convert(v, d.ty)
	if err != nil {
		bad(err.Error())
		return
	}
	d.val, d.from = cv, from
}

// bindFile binds the attributes of a variables file (HCL, or JSON by
// extension). name is how diagnostics call it.
func (e *evaluator) bindFile(name, path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		e.errorf(nil, "Cannot read variables file", "Reading %s: %v. Check the --var-file path.", path, err)
		return
	}
	var f *hcl.File
	var ds hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		f, ds = e.l.parser.ParseJSON(src, name)
	} else {
		f, ds = e.l.parser.ParseHCL(src, name)
	}
	e.add(ds)
	if ds.HasErrors() || f == nil {
		return
	}
	attrs, ds := f.Body.JustAttributes()
	e.add(ds)
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := attrs[n]
		d := e.varDecls[n]
		if d == nil {
			e.errorf(a.NameRange.Ptr(), "Value for undeclared variable",
				"%s sets %q, but %s declares no variable %q; declare it or remove the line.", name, n, e.name, n)
			continue
		}
		if d.broken {
			continue
		}
		if !e.checkRefs(a.Expr, scopeConst) {
			continue
		}
		v, ds := a.Expr.Value(&hcl.EvalContext{Functions: e.funcs})
		e.add(ds)
		if ds.HasErrors() {
			continue
		}
		cv, err := convert.Convert(v, d.ty)
		if err != nil {
			e.errorf(a.Expr.Range().Ptr(), "Invalid value for variable",
				"The value of var.%s in %s is not a valid %s: %s.", n, name, typeexpr.TypeString(d.ty), err)
			d.broken = true
			continue
		}
		d.val, d.from = cv, name
	}
}

func (e *evaluator) varObject() cty.Value {
	m := make(map[string]cty.Value, len(e.varDecls))
	for n, d := range e.varDecls {
		if d.broken || d.val == cty.NilVal {
			m[n] = cty.DynamicVal
		} else {
			m[n] = d.val
		}
	}
	return cty.ObjectVal(m)
}

// validateVariables runs each validation rule against the bound values.
func (e *evaluator) validateVariables(blocks []*hcl.Block) {
	ctx := &hcl.EvalContext{Functions: e.funcs, Variables: map[string]cty.Value{"var": e.varObject()}}
	saved := e.ctx
	e.ctx = ctx
	defer func() { e.ctx = saved }()
	for _, b := range blocks {
		d := e.varDecls[b.Labels[0]]
		for _, vb := range d.validations {
			content, ds := sortedContent(vb.Body, validationSchema)
			e.add(ds)
			if ds.HasErrors() || d.broken {
				continue
			}
			cond := content.Attributes["condition"]
			v, ok := e.value(cond.Expr, scopeVars)
			if !ok {
				continue
			}
			if v.IsNull() || v.Type() != cty.Bool {
				e.errorf(cond.Expr.Range().Ptr(), "Invalid validation condition", "A condition must be true or false.")
				continue
			}
			if v.True() {
				continue
			}
			msg := "the value is not valid"
			if mv, ok := e.value(content.Attributes["error_message"].Expr, scopeVars); ok {
				if s, err := convert.Convert(mv, cty.String); err == nil && !s.IsNull() {
					msg = s.AsString()
				}
			}
			e.errorf(cond.Expr.Range().Ptr(), "Invalid value for variable",
				"%s\n\nThe value of var.%s (from %s) failed this validation rule; give a value that meets it.", msg, b.Labels[0], d.from)
			d.broken = true
		}
	}
}
