package lang

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// A stage, image or artifact block with matrix (docker buildx bake's) or
// for_each (HCL's, as Terraform has it) stands for several blocks, its
// instances: each is decoded as a block of its own, under its own name,
// with the matrix's keys (or each.key and each.value) in scope. After
// expansion nothing downstream knows a matrix was there: an instance is a
// stage, image or artifact like any other, with its own derivations.

// multiSchema is the part of a block that says how it expands.
var multiSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "matrix"}, {Name: "for_each"}, {Name: "name"},
}}

// The blocks that expand accept multiSchema's attributes; their decoders
// ignore them, as expand has read them.
var _ = func() bool {
	for _, s := range []*hcl.BodySchema{stageSchema, imageSchema, artifactSchema} {
		s.Attributes = append(s.Attributes, multiSchema.Attributes...)
	}
	return true
}()

// instance is one expansion of a block: the block under the instance's
// name, and the values its expressions see.
type instance struct {
	vars map[string]cty.Value
	key  string // for_each: each.key
	// rng is where the instance's name comes from: the name attribute,
	// else the block's header.
	rng hcl.Range
}

// describe is the instance's values, as a diagnostic shows them.
func (in instance) describe() string {
	keys := make([]string, 0, len(in.vars))
	for k := range in.vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := in.vars[k]
		if k == "each" {
			parts[i] = fmt.Sprintf("each.key = %q", in.key)
			continue
		}
		parts[i] = k + " = " + strings.TrimSpace(string(hclwrite.TokensForValue(v).Bytes()))
	}
	return strings.Join(parts, ", ")
}

// isMulti says whether b has matrix or for_each, reading nothing else.
func isMulti(b *hcl.Block) bool {
	if s, ok := b.Body.(*hclsyntax.Body); ok {
		return s.Attributes["matrix"] != nil || s.Attributes["for_each"] != nil
	}
	c, _, _ := b.Body.PartialContent(multiSchema)
	return c != nil && (c.Attributes["matrix"] != nil || c.Attributes["for_each"] != nil)
}

// reservedRoots cannot be matrix keys: they already mean something in
// every expression.
var reservedRoots = map[string]bool{"var": true, "local": true, "source": true, "stage": true,
	"image": true, "artifact": true, "group": true, "each": true}

// expand returns the instances of b, which has matrix or for_each, each as
// a copy of b labelled with the instance's name. Only variables and
// functions can be used in matrix, for_each and name: locals may refer to
// stages, whose names must be known before locals are evaluated.
func (e *evaluator) expand(b *hcl.Block) ([]*hcl.Block, []instance) {
	c, _, ds := b.Body.PartialContent(multiSchema)
	e.add(ds)
	if c == nil {
		return nil, nil
	}
	m, fe, name := c.Attributes["matrix"], c.Attributes["for_each"], c.Attributes["name"]
	if m != nil && fe != nil {
		e.errorf(fe.NameRange.Ptr(), "Conflicting arguments",
			"A %s block has matrix (bake's) or for_each (HCL's), not both; keep one.", b.Type)
		return nil, nil
	}
	var insts []instance
	if m != nil {
		insts = e.matrixInstances(m)
	} else {
		insts = e.forEachInstances(fe)
	}
	var blocks []*hcl.Block
	var kept []instance
	for _, in := range insts {
		n, ok := e.instanceName(b, name, m != nil, in)
		if !ok {
			continue
		}
		cp := *b
		cp.Labels = []string{n}
		in.rng = b.DefRange
		if name != nil {
			in.rng = name.Expr.Range()
		}
		blocks = append(blocks, &cp)
		kept = append(kept, in)
	}
	return blocks, kept
}

// matrixInstances is bake's matrix: a map of lists, expanded to every
// combination, the first key (in sorted order) varying slowest; each key
// is a variable of the instance.
func (e *evaluator) matrixInstances(a *hcl.Attribute) []instance {
	v, ok := e.value(a.Expr, scopeMatrix)
	if !ok || v.IsNull() {
		return nil
	}
	t := v.Type()
	if !t.IsObjectType() && !t.IsMapType() {
		e.errorf(a.Expr.Range().Ptr(), "Invalid matrix",
			"matrix is a map of lists, like { goos = [\"linux\", \"darwin\"], goarch = [\"amd64\", \"arm64\"] }; this is %s.", t.FriendlyName())
		return nil
	}
	vm := v.AsValueMap()
	keys := make([]string, 0, len(vm))
	for k := range vm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	insts := []instance{{vars: map[string]cty.Value{}}}
	for _, k := range keys {
		if reservedRoots[k] || !validName(k) {
			e.errorf(a.Expr.Range().Ptr(), "Invalid matrix key",
				"%q cannot be a matrix key: a key is the name its values are used by, so it must be a valid name and not one of var, local, source, stage, image, artifact, group or each.", k)
			return nil
		}
		lt := vm[k].Type()
		if !lt.IsListType() && !lt.IsTupleType() && !lt.IsSetType() {
			e.errorf(a.Expr.Range().Ptr(), "Invalid matrix",
				"matrix key %q must be a list of values, like %s = [\"a\", \"b\"]; it is %s.", k, k, lt.FriendlyName())
			return nil
		}
		var next []instance
		for _, in := range insts {
			for it := vm[k].ElementIterator(); it.Next(); {
				_, el := it.Element()
				vars := make(map[string]cty.Value, len(in.vars)+1)
				for n, x := range in.vars {
					vars[n] = x
				}
				vars[k] = el
				next = append(next, instance{vars: vars})
			}
		}
		insts = next
	}
	return insts
}

// forEachInstances is HCL's for_each: a map (each.key is the key) or a
// set or list of strings (each.key and each.value are the string).
func (e *evaluator) forEachInstances(a *hcl.Attribute) []instance {
	v, ok := e.value(a.Expr, scopeMatrix)
	if !ok || v.IsNull() {
		return nil
	}
	t := v.Type()
	var insts []instance
	add := func(k string, val cty.Value) {
		each := cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": val})
		insts = append(insts, instance{vars: map[string]cty.Value{"each": each}, key: k})
	}
	switch {
	case t.IsObjectType() || t.IsMapType():
		vm := v.AsValueMap()
		keys := make([]string, 0, len(vm))
		for k := range vm {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			add(k, vm[k])
		}
	case t.IsSetType() || t.IsListType() || t.IsTupleType():
		seen := map[string]bool{}
		for it := v.ElementIterator(); it.Next(); {
			_, el := it.Element()
			if el.IsNull() || el.Type() != cty.String {
				e.errorf(a.Expr.Range().Ptr(), "Invalid for_each",
					"for_each over a list or set takes strings, which become each.key; use a map for other values.")
				return nil
			}
			if k := el.AsString(); !seen[k] {
				seen[k] = true
				add(k, el)
			}
		}
	default:
		e.errorf(a.Expr.Range().Ptr(), "Invalid for_each",
			"for_each takes a map or a set of strings, like toset([\"amd64\", \"arm64\"]); this is %s.", t.FriendlyName())
		return nil
	}
	return insts
}

// instanceName is name evaluated for the instance or, without name, the
// block's label followed by the instance's values (matrix, keys in sorted
// order) or key (for_each), with every character a name cannot hold as
// "-": stage "build" over goarch ["amd64"] is build-amd64.
func (e *evaluator) instanceName(b *hcl.Block, name *hcl.Attribute, matrix bool, in instance) (string, bool) {
	if name != nil {
		f := e.forInstance(in)
		v, ok := f.value(name.Expr, scopeMatrix)
		e.add(f.diags)
		if !ok {
			return "", false
		}
		if v.IsNull() || v.Type() != cty.String {
			e.errorf(name.Expr.Range().Ptr(), "Invalid name", "name must be a string, like \"app-${goarch}\".")
			return "", false
		}
		n := v.AsString()
		if !validName(n) {
			e.errorf(name.Expr.Range().Ptr(), "Invalid "+b.Type+" name",
				"This instance's name is %q, which is not a valid name: names start with a letter or underscore and hold only letters, digits, underscores and dashes.", n)
			return "", false
		}
		return n, true
	}
	parts := []string{b.Labels[0]}
	if !matrix {
		parts = append(parts, in.key)
	} else {
		keys := make([]string, 0, len(in.vars))
		for k := range in.vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := in.vars[k]
			if v.IsNull() || !v.Type().IsPrimitiveType() {
				e.errorf(b.DefRange.Ptr(), "Missing instance name",
					"matrix key %q holds values that are not strings, numbers or bools, so no name can be made from them; set name = \"%s-...\" from the values.", k, b.Labels[0])
				return "", false
			}
			s, err := primitiveString(v)
			if err != nil {
				e.errorf(b.DefRange.Ptr(), "Missing instance name", "%s; set name.", err)
				return "", false
			}
			parts = append(parts, s)
		}
	}
	return sanitizeName(strings.Join(parts, "-")), true
}

func primitiveString(v cty.Value) (string, error) {
	switch v.Type() {
	case cty.String:
		return v.AsString(), nil
	case cty.Bool:
		return fmt.Sprint(v.True()), nil
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), nil
	}
	return "", fmt.Errorf("a %s cannot be part of a name", v.Type().FriendlyName())
}

// sanitizeName turns every character a name cannot hold into "-", so
// that a platform "linux/amd64" gives build-linux-amd64.
func sanitizeName(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if r == '_' || r == '-' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('-')
		}
	}
	return sb.String()
}

// forInstance returns a fork of e whose expressions see in's values.
func (e *evaluator) forInstance(in instance) *evaluator {
	f := e.fork()
	f.ctx = e.ctx.NewChild()
	f.ctx.Variables = in.vars
	f.instVars = make(map[string]bool, len(in.vars))
	for n := range in.vars {
		f.instVars[n] = true
	}
	return f
}

// forkFor is fork for decoding b: an instance's fork sees its values.
func (e *evaluator) forkFor(b *hcl.Block) *evaluator {
	if in, ok := e.instances[b]; ok {
		return e.forInstance(in)
	}
	return e.fork()
}

// expandDynamic returns body with HCL's dynamic blocks
// (github.com/hashicorp/hcl/v2/ext/dynblock) expanded, evaluated in e's
// context, when it has any. A body without one is returned as it is, so
// that the shortcuts for clean syntax trees still apply.
func (e *evaluator) expandDynamic(body hcl.Body) hcl.Body {
	if s, ok := body.(*hclsyntax.Body); ok && !hasDynamic(s) {
		return body
	}
	return dynblock.Expand(body, e.ctx)
}

func hasDynamic(b *hclsyntax.Body) bool {
	for _, blk := range b.Blocks {
		if blk.Type == "dynamic" || hasDynamic(blk.Body) {
			return true
		}
	}
	return false
}

// declareInstances expands the blocks with matrix or for_each, once
// variables are bound, and declares their instances. A for_each stage's
// label also names the map of its instances (stage.build["amd64"]), and
// an image's or artifact's label a group of its instances, as a bake
// target with a matrix does.
func (e *evaluator) declareInstances(top *topBlocks) {
	for _, b := range top.multi {
		blocks, insts := e.expand(b)
		label := b.Labels[0]
		var names []string
		for i, ib := range blocks {
			n := ib.Labels[0]
			e.instances[ib] = insts[i]
			switch b.Type {
			case "stage":
				if !top.declare("stage."+n, "stage", ib) {
					continue
				}
				e.stages[n] = true
				top.stages = append(top.stages, ib)
				if isForEach(b) {
					if e.stageSets[label] == nil {
						e.stageSets[label] = map[string]string{}
					}
					e.stageSets[label][insts[i].key] = n
				}
			default:
				if !top.declare("target."+n, "target name", ib) {
					continue
				}
				if b.Type == "image" {
					top.images = append(top.images, ib)
				} else {
					top.artifacts = append(top.artifacts, ib)
				}
			}
			names = append(names, n)
		}
		if b.Type == "stage" && isForEach(b) && e.stageSets[label] == nil {
			e.stageSets[label] = map[string]string{}
		}
		if b.Type != "stage" {
			top.implicitGroups = append(top.implicitGroups, &Group{Name: label, DeclRange: b.DefRange, Targets: names})
		}
	}
	for _, l := range [][]*hcl.Block{top.stages, top.images, top.artifacts} {
		sort.SliceStable(l, func(i, j int) bool { return l[i].DefRange.Start.Byte < l[j].DefRange.Start.Byte })
	}
}

func isForEach(b *hcl.Block) bool {
	if s, ok := b.Body.(*hclsyntax.Body); ok {
		return s.Attributes["for_each"] != nil
	}
	c, _, _ := b.Body.PartialContent(multiSchema)
	return c != nil && c.Attributes["for_each"] != nil
}

// declareMulti declares what a block with matrix or for_each reserves
// before it expands: a for_each stage's label (the map of its instances)
// and an image's or artifact's label (the group of its instances).
func (e *evaluator) declareMulti(b *hcl.Block, top *topBlocks) {
	if !validName(b.Labels[0]) {
		e.badName(b, b.Type)
		return
	}
	switch {
	case b.Type != "stage":
		if !top.declare("target."+b.Labels[0], "target name", b) {
			return
		}
	case isForEach(b):
		if !top.declare("stage."+b.Labels[0], "stage", b) {
			return
		}
	default:
		e.matrixStages[b.Labels[0]] = true
	}
	top.multi = append(top.multi, b)
}

// checkNameAlone reports name on a block without matrix or for_each,
// where it would silently mean nothing.
func (e *evaluator) checkNameAlone(b *hcl.Block) {
	if s, ok := b.Body.(*hclsyntax.Body); ok {
		if a := s.Attributes["name"]; a != nil {
			e.errorf(a.NameRange.Ptr(), "Unexpected name",
				"name names the instances of a block with matrix or for_each; this %s block has neither, so its name is its label.", b.Type)
		}
		return
	}
	c, _, _ := b.Body.PartialContent(multiSchema)
	if c != nil && c.Attributes["name"] != nil {
		e.errorf(c.Attributes["name"].NameRange.Ptr(), "Unexpected name",
			"name names the instances of a block with matrix or for_each; this %s block has neither, so its name is its label.", b.Type)
	}
}
