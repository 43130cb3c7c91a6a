package lockfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/kiln-build/kiln/internal/diagtext"
	"github.com/kiln-build/kiln/internal/infolder"
)

// summaryNotNormal is the summary of the one diagnostic that leaves a
// usable lock behind: `kiln lock` can read such a file and rewrite it.
const summaryNotNormal = "Lock file not in normal form"

// ErrNotNormal is wrapped by Read's error when the only problem with the
// file is that it is not in normal form (hand-formatted, CRLF, reordered).
// Read then also returns the lock, so that `kiln lock` can rewrite it.
var ErrNotNormal = errors.New("lock file not in normal form")

// ErrOutsideFolder is wrapped by Read's error when the lock file is a
// symlink to a file outside its folder.
var ErrOutsideFolder = errors.New("refused to follow it")

// Read reads and parses the lock at path. A missing file is an empty lock:
// a new project has none until `kiln lock` runs.
func Read(path string) (*Lock, error) {
	// The lock sits in the build folder, which may be an untrusted
	// checkout: a symlink must not make kiln read (and quote) a host file.
	if _, err := infolder.Join(filepath.Dir(path), filepath.Base(path)); err != nil {
		return nil, fmt.Errorf("%s is a symlink leading outside the build folder (%w); kiln reads the lock only from inside it: replace the symlink with the file itself", path, ErrOutsideFolder)
	}
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading lock file: %w", err)
	}
	l, diags := Parse(src, path)
	if diags.HasErrors() {
		err := &DiagnosticsError{Diags: diags}
		if onlyNotNormal(diags) {
			return l, err
		}
		return nil, err
	}
	return l, nil
}

func onlyNotNormal(diags hcl.Diagnostics) bool {
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Summary != summaryNotNormal {
			return false
		}
	}
	return true
}

// DiagnosticsError carries Parse's diagnostics through an error, printed
// one per line as file:line:col: summary: detail.
type DiagnosticsError struct {
	Diags hcl.Diagnostics
}

func (e *DiagnosticsError) Error() string { return diagtext.Lines(e.Diags) }

// Is makes errors.Is(err, ErrNotNormal) true when that is the only problem.
func (e *DiagnosticsError) Is(target error) bool {
	return target == ErrNotNormal && onlyNotNormal(e.Diags)
}

// Parse parses a lock strictly: only known blocks and attributes, literal
// values of the right kind and shape, no duplicates, the current version,
// and finally byte-for-byte normal form. When every problem is about the
// normal form, the returned lock is complete and usable.
func Parse(src []byte, filename string) (*Lock, hcl.Diagnostics) {
	p := &parser{filename: filename}
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, p.hint(diags, "the lock file is not valid HCL")
	}
	body := file.Body.(*hclsyntax.Body)
	l := New()
	l.Version = 0

	names := make([]string, 0, len(body.Attributes))
	for n := range body.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := body.Attributes[n]
		if n != "version" {
			p.errorf(a.NameRange.Ptr(), "Unknown attribute", "%q is not a lock file attribute; only version is allowed outside blocks. Run `kiln lock` to rewrite the file.", n)
			continue
		}
		v, ok := p.int(a, "the lock file")
		if !ok {
			continue
		}
		switch {
		case v > Version:
			p.errorf(a.Expr.Range().Ptr(), "Unsupported lock file version", "the lock file has version %d, this kiln reads version %d; upgrade kiln, or run `kiln lock` with this one to rewrite it", v, Version)
		case v < 1:
			p.errorf(a.Expr.Range().Ptr(), "Unsupported lock file version", "version %d is not a lock file version; run `kiln lock` to rewrite the file", v)
		default:
			l.Version = int(v)
		}
	}
	if _, ok := body.Attributes["version"]; !ok {
		p.errorf(&hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}, "Missing version", "the lock file has no version attribute; run `kiln lock` to rewrite it")
	}

	seen := map[string]*hcl.Range{}
	for _, b := range body.Blocks {
		e := p.block(b)
		if e == nil {
			continue
		}
		if prev, dup := seen[e.Address]; dup {
			if first := l.Entries[e.Address]; first != nil && e.Type == TypeDeb && first.Type == TypeDeb && first.ForArch(e.Architecture) == nil {
				// The same deb source for another architecture: see
				// Entry.Others. Their order is checked by the normal form.
				first.Others = append(first.Others, e)
				continue
			}
			p.errorf(b.DefRange().Ptr(), "Duplicate lock entry", "%s is locked twice (first at %s:%d:%d); remove one, or delete both and run `kiln lock`", e.Address, prev.Filename, prev.Start.Line, prev.Start.Column)
			continue
		}
		r := b.DefRange()
		seen[e.Address] = &r
		l.Entries[e.Address] = e
	}
	if p.diags.HasErrors() {
		return nil, p.diags
	}
	if norm := l.Bytes(); !bytes.Equal(norm, src) {
		line, got, want := firstDiff(src, norm)
		p.errorf(&hcl.Range{Filename: filename, Start: hcl.Pos{Line: line, Column: 1}, End: hcl.Pos{Line: line, Column: 1}},
			summaryNotNormal, "line %d is %q, the normal form has %q; the file was edited by hand or by another tool. Run `kiln lock` to rewrite it", line, got, want)
		return l, p.diags
	}
	return l, nil
}

// firstDiff finds the first line where a and b differ, 1-based.
func firstDiff(a, b []byte) (line int, got, want string) {
	la := strings.SplitAfter(string(a), "\n")
	lb := strings.SplitAfter(string(b), "\n")
	for i := 0; ; i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y || (i >= len(la) && i >= len(lb)) {
			return i + 1, x, y
		}
	}
}

type parser struct {
	filename string
	diags    hcl.Diagnostics
}

func (p *parser) errorf(r *hcl.Range, summary, format string, args ...any) {
	p.diags = append(p.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: r})
}

// hint adds what to do next to hcl's own syntax diagnostics.
func (p *parser) hint(diags hcl.Diagnostics, what string) hcl.Diagnostics {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			d.Detail = strings.TrimSpace(d.Detail + " (" + what + "; fix it, or delete it and run `kiln lock`)")
		}
	}
	return diags
}

func (p *parser) value(a *hclsyntax.Attribute, who string) (cty.Value, bool) {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		p.errorf(a.Expr.Range().Ptr(), "Invalid value", "%s: %s must be a literal value; run `kiln lock` to rewrite it", who, a.Name)
		return cty.NilVal, false
	}
	return v, true
}

func (p *parser) int(a *hclsyntax.Attribute, who string) (int64, bool) {
	v, ok := p.value(a, who)
	if !ok {
		return 0, false
	}
	if v.Type() != cty.Number || v.IsNull() {
		p.errorf(a.Expr.Range().Ptr(), "Invalid value", "%s: %s must be a whole number; run `kiln lock` to rewrite it", who, a.Name)
		return 0, false
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || n < 0 {
		p.errorf(a.Expr.Range().Ptr(), "Invalid value", "%s: %s must be a whole number ≥ 0; run `kiln lock` to rewrite it", who, a.Name)
		return 0, false
	}
	return n, true
}

func (p *parser) str(a *hclsyntax.Attribute, who string) (string, bool) {
	v, ok := p.value(a, who)
	if !ok {
		return "", false
	}
	if v.Type() != cty.String || v.IsNull() {
		p.errorf(a.Expr.Range().Ptr(), "Invalid value", "%s: %s must be a string; run `kiln lock --update %s` to re-resolve it", who, a.Name, who)
		return "", false
	}
	return v.AsString(), true
}

func (p *parser) block(b *hclsyntax.Block) *Entry {
	addr, typ, k := p.header(b)
	if k == nil {
		return nil
	}
	e := &Entry{Address: addr, Type: typ}
	if bk, ok := k.(blockKind); ok {
		bk.readBlocks(p, b, e)
	} else {
		for _, nb := range b.Body.Blocks {
			p.unexpected(nb, b, addr)
		}
	}
	schema := k.attrs()
	p.unknownAttrs(b, addr, typ, schema)
	for _, s := range schema {
		a, ok := b.Body.Attributes[s.name]
		if !ok {
			if !s.optional {
				p.errorf(b.DefRange().Ptr(), "Missing attribute", "%s: the entry has no %s; run `kiln lock --update %s` to re-resolve it", addr, s.name, addr)
			}
			continue
		}
		p.attr(a, s, addr, e)
	}
	return e
}

// header reads a block's type and labels: its address, entry type and
// kind, or a nil kind after reporting why not.
func (p *parser) header(b *hclsyntax.Block) (addr, typ string, k kind) {
	if b.Type != "source" && b.Type != "run" {
		p.errorf(b.TypeRange.Ptr(), "Unknown block", "%q is not a lock file block; only source and run blocks are allowed. Run `kiln lock` to rewrite the file.", b.Type)
		return "", "", nil
	}
	if len(b.Labels) != 2 {
		p.errorf(b.DefRange().Ptr(), "Invalid block labels", "a %s block has two labels, %s \"TYPE\" \"NAME\"; run `kiln lock` to rewrite the file", b.Type, b.Type)
		return "", "", nil
	}
	addr, typ, err := addressOf(b.Type, b.Labels)
	if err != nil {
		p.errorf(b.DefRange().Ptr(), "Invalid block labels", "%v; run `kiln lock` to rewrite the file", err)
		return "", "", nil
	}
	k = kinds[typ]
	if k == nil || (b.Type == "source" && typ == TypeRun) {
		p.errorf(b.LabelRanges[0].Ptr(), "Unknown source type", "%s: sources of type %q are not locked by this kiln; remove the block and run `kiln lock`", addr, typ)
		return "", "", nil
	}
	return addr, typ, k
}

// unexpected reports a nested block of an entry (of block b) that its kind
// does not have.
func (p *parser) unexpected(nb, b *hclsyntax.Block, addr string) {
	p.errorf(nb.DefRange().Ptr(), "Unexpected block", "%s: %s blocks have no nested blocks; run `kiln lock --update %s` to rewrite the entry", addr, b.Type, addr)
}

// unknownAttrs reports b's attributes that schema does not list, by name.
func (p *parser) unknownAttrs(b *hclsyntax.Block, addr, typ string, schema []attrSpec) {
	known := map[string]bool{}
	for _, s := range schema {
		known[s.name] = true
	}
	names := make([]string, 0, len(b.Body.Attributes))
	for n := range b.Body.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !known[n] {
			a := b.Body.Attributes[n]
			p.errorf(a.NameRange.Ptr(), "Unknown attribute", "%s: %q is not an attribute of a %s entry; run `kiln lock --update %s` to rewrite the entry", addr, n, typ, addr)
		}
	}
}

// attr reads one attribute of an entry into e, as s says.
func (p *parser) attr(a *hclsyntax.Attribute, s attrSpec, addr string, e *Entry) {
	switch s.kind {
	case kindString:
		v, ok := p.str(a, addr)
		if !ok {
			return
		}
		if s.check != nil {
			if err := s.check(v); err != nil {
				p.errorf(a.Expr.Range().Ptr(), "Invalid "+s.name, "%s: %s %v; run `kiln lock --update %s` to re-resolve it", addr, s.name, err, addr)
				return
			}
		}
		*s.str(e) = v
	case kindInt:
		if v, ok := p.int(a, addr); ok {
			*s.num(e) = v
		}
	case kindMap:
		e.Platforms = p.platforms(a, addr, s.optional)
	case kindList:
		e.Packages = p.names(a, s, addr)
	}
}

// names reads a list of package names.
func (p *parser) names(a *hclsyntax.Attribute, s attrSpec, addr string) []string {
	v, ok := p.value(a, addr)
	if !ok {
		return nil
	}
	if !(v.Type().IsTupleType() || v.Type().IsListType()) || v.IsNull() {
		p.errorf(a.Expr.Range().Ptr(), "Invalid "+s.name, "%s: %s must be a list of strings; run `kiln lock --update %s` to re-resolve it", addr, s.name, addr)
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.Type() != cty.String || ev.IsNull() || ev.AsString() == "" {
			p.errorf(a.Expr.Range().Ptr(), "Invalid "+s.name, "%s: %s must be a list of package names; run `kiln lock --update %s` to re-resolve it", addr, s.name, addr)
			break
		}
		out = append(out, ev.AsString())
	}
	return out
}

func (p *parser) platforms(a *hclsyntax.Attribute, addr string, optional bool) map[string]string {
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		p.errorf(a.Expr.Range().Ptr(), "Invalid platforms", "%s: platforms must be a map of platform to digest; run `kiln lock --update %s` to re-resolve it", addr, addr)
		return nil
	}
	out := map[string]string{}
	for _, item := range obj.Items {
		kv, diags := item.KeyExpr.Value(nil)
		vv, diags2 := item.ValueExpr.Value(nil)
		if diags.HasErrors() || diags2.HasErrors() || kv.Type() != cty.String || vv.Type() != cty.String || kv.IsNull() || vv.IsNull() {
			p.errorf(item.KeyExpr.Range().Ptr(), "Invalid platforms", "%s: platforms must map quoted platform strings to digest strings; run `kiln lock --update %s` to re-resolve it", addr, addr)
			continue
		}
		k, v := kv.AsString(), vv.AsString()
		if err := checkPlatform(k); err != nil {
			p.errorf(item.KeyExpr.Range().Ptr(), "Invalid platform", "%s: %v; run `kiln lock --update %s` to re-resolve it", addr, err, addr)
			continue
		}
		if err := checkDigest(v); err != nil {
			p.errorf(item.ValueExpr.Range().Ptr(), "Invalid digest", "%s: platform %s: %v; run `kiln lock --update %s` to re-resolve it", addr, k, err, addr)
			continue
		}
		if _, dup := out[k]; dup {
			p.errorf(item.KeyExpr.Range().Ptr(), "Duplicate platform", "%s: platform %s is listed twice; run `kiln lock --update %s` to re-resolve it", addr, k, addr)
			continue
		}
		out[k] = v
	}
	if len(out) == 0 && len(obj.Items) == 0 && !optional {
		p.errorf(a.Expr.Range().Ptr(), "Invalid platforms", "%s: platforms is empty; run `kiln lock --update %s` to re-resolve it", addr, addr)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Path returns the lock's path for a build file: build.lock.hcl next to it.
func Path(buildFile string) string {
	return filepath.Join(filepath.Dir(buildFile), FileName)
}
