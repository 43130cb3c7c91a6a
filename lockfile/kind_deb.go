package lockfile

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// TypeDeb is a set of Debian packages: the request (suite, architecture,
// the packages named in build.hcl) and the resolved closure, one nested
// package block per pinned package.
const TypeDeb = "deb"

// Deb is one pinned Debian package of a deb entry, written as a nested
// package "NAME" block so that a version bump changes only its lines.
type Deb struct {
	Name         string
	Version      string
	Architecture string
	// Filename is the pool path below the repository base.
	Filename string
	SHA256   string
	Size     int64
}

// debSchema is the attributes of a deb entry's package blocks, in order.
var debSchema = []string{"version", "architecture", "filename", "sha256", "size"}

type debKind struct{}

var _ blockKind = debKind{}

func (debKind) attrs() []attrSpec {
	return []attrSpec{
		{name: "suite", check: checkNonEmpty, str: fSuite},
		{name: "architecture", check: checkNonEmpty, str: fArch},
		{name: "packages", kind: kindList},
	}
}

func (debKind) matches(in *Input, e *Entry) bool {
	s := in.Source
	arches := in.Arches
	if len(arches) == 0 {
		arches = []string{s.Architecture}
	}
	if len(e.Others)+1 != len(arches) {
		return false
	}
	for _, a := range arches {
		o := e.ForArch(a)
		if o == nil || o.Suite != s.Suite ||
			strings.Join(o.Packages, "\n") != strings.Join(s.Packages, "\n") || len(o.Debs) == 0 {
			return false
		}
	}
	return true
}

func (debKind) pin(e *Entry, _ string) (string, bool) { return DebManifest(e.Debs), true }

func (debKind) request(in *Input) string {
	arch := in.Source.Architecture
	if len(in.Arches) > 0 {
		arch = strings.Join(in.Arches, ",")
	}
	return debRequest(in.Source.Suite, arch, in.Source.Packages)
}

func (debKind) entryRequest(e *Entry) string {
	return debRequest(e.Suite, strings.Join(e.Arches(), ","), e.Packages)
}

func (debKind) summary(e *Entry) string {
	return fmt.Sprintf("%s/%s, %d packages", e.Suite, strings.Join(e.Arches(), "+"), len(e.Debs))
}

func (debKind) readBlocks(p *parser, b *hclsyntax.Block, e *Entry) {
	seen := map[string]bool{}
	for _, nb := range b.Body.Blocks {
		if nb.Type != "package" {
			p.unexpected(nb, b, e.Address)
			continue
		}
		d, ok := p.deb(nb, e.Address)
		if !ok {
			continue
		}
		// Not only neighbours: a, b, a would otherwise pass as a mere
		// normal-form problem and keep both copies.
		if seen[d.Name] {
			p.errorf(nb.DefRange().Ptr(), "Duplicate package", "%s: package %s is pinned twice; run `kiln lock --update %s` to re-resolve it", e.Address, d.Name, e.Address)
			continue
		}
		seen[d.Name] = true
		e.Debs = append(e.Debs, d)
	}
}

func (debKind) writeBlocks(b *hclwrite.Body, e *Entry) {
	debs := append([]Deb(nil), e.Debs...)
	sort.SliceStable(debs, func(i, j int) bool { return debs[i].Name < debs[j].Name })
	for _, d := range debs {
		b.AppendNewline()
		pb := b.AppendNewBlock("package", []string{d.Name}).Body()
		pb.SetAttributeValue("version", cty.StringVal(d.Version))
		pb.SetAttributeValue("architecture", cty.StringVal(d.Architecture))
		pb.SetAttributeValue("filename", cty.StringVal(d.Filename))
		pb.SetAttributeValue("sha256", cty.StringVal(d.SHA256))
		pb.SetAttributeValue("size", cty.NumberIntVal(d.Size))
	}
}

func (debKind) changes(a, b *Entry) []string {
	if len(a.Others) == 0 && len(b.Others) == 0 {
		return debChanges(a.Debs, b.Debs)
	}
	// Several architectures: each line says which one moved.
	var out []string
	for _, n := range b.Arches() {
		var old []Deb
		if o := a.ForArch(n); o != nil {
			old = o.Debs
		}
		for _, c := range debChanges(old, b.ForArch(n).Debs) {
			out = append(out, n+": "+c)
		}
	}
	return out
}

// DebManifest is the pin of a deb entry as the compiler records it: one
// line per package, "NAME VERSION ARCHITECTURE FILENAME SHA256 SIZE",
// sorted by name, each ending in a newline. realize/source parses it back.
func DebManifest(debs []Deb) string {
	sorted := append([]Deb(nil), debs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var b strings.Builder
	for _, d := range sorted {
		fmt.Fprintf(&b, "%s %s %s %s %s %d\n", d.Name, d.Version, d.Architecture, d.Filename, d.SHA256, d.Size)
	}
	return b.String()
}

// deb reads one package "NAME" block of a deb entry.
func (p *parser) deb(b *hclsyntax.Block, addr string) (Deb, bool) {
	d := Deb{}
	// Each field becomes one space-separated word of DebManifest's line.
	if len(b.Labels) != 1 || !oneWord(b.Labels[0]) {
		p.errorf(b.DefRange().Ptr(), "Invalid block labels", "%s: a package block has one label, the package name; run `kiln lock --update %s` to rewrite the entry", addr, addr)
		return d, false
	}
	d.Name = b.Labels[0]
	where := addr + " package " + d.Name
	for _, nb := range b.Body.Blocks {
		p.errorf(nb.DefRange().Ptr(), "Unexpected block", "%s: package blocks have no nested blocks; run `kiln lock --update %s` to rewrite the entry", where, addr)
	}
	known := map[string]bool{}
	for _, n := range debSchema {
		known[n] = true
	}
	names := make([]string, 0, len(b.Body.Attributes))
	for n := range b.Body.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !known[n] {
			a := b.Body.Attributes[n]
			p.errorf(a.NameRange.Ptr(), "Unknown attribute", "%s: %q is not an attribute of a package block; run `kiln lock --update %s` to rewrite the entry", where, n, addr)
		}
	}
	ok := true
	for _, n := range debSchema {
		a, found := b.Body.Attributes[n]
		if !found {
			p.errorf(b.DefRange().Ptr(), "Missing attribute", "%s: the block has no %s; run `kiln lock --update %s` to re-resolve it", where, n, addr)
			ok = false
			continue
		}
		if n == "size" {
			v, good := p.int(a, addr)
			d.Size, ok = v, ok && good
			continue
		}
		v, good := p.str(a, addr)
		if good && !oneWord(v) {
			p.errorf(a.Expr.Range().Ptr(), "Invalid "+n, "%s: %s %q is empty or has spaces or control characters; run `kiln lock --update %s` to re-resolve it", where, n, v, addr)
			good = false
		}
		if good && n == "sha256" {
			if err := checkHex256(v); err != nil {
				p.errorf(a.Expr.Range().Ptr(), "Invalid sha256", "%s: sha256 %v; run `kiln lock --update %s` to re-resolve it", where, err, addr)
				good = false
			}
		}
		if good && n == "filename" && (strings.HasPrefix(v, "/") || strings.Contains("/"+v+"/", "/../")) {
			p.errorf(a.Expr.Range().Ptr(), "Invalid filename", "%s: filename %q must be a path below the repository base; run `kiln lock --update %s` to re-resolve it", where, v, addr)
			good = false
		}
		ok = ok && good
		switch n {
		case "version":
			d.Version = v
		case "architecture":
			d.Architecture = v
		case "filename":
			d.Filename = v
		case "sha256":
			d.SHA256 = v
		}
	}
	return d, ok
}

// oneWord reports whether s is non-empty and free of spaces and control
// characters.
func oneWord(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// debChanges names each pinned package that moved: "gcc-12 12.2.0-13 ->
// 12.2.0-14", "+libfoo 1.0", "-libbar 2.0".
func debChanges(a, b []Deb) []string {
	old := map[string]Deb{}
	for _, d := range a {
		old[d.Name] = d
	}
	var out []string
	for _, d := range b {
		o, ok := old[d.Name]
		delete(old, d.Name)
		switch {
		case !ok:
			out = append(out, "+"+d.Name+" "+d.Version)
		case o.Version != d.Version:
			out = append(out, d.Name+" "+o.Version+" -> "+d.Version)
		case o != d:
			out = append(out, d.Name+" "+d.Version)
		}
	}
	for _, d := range a {
		if _, ok := old[d.Name]; ok {
			out = append(out, "-"+d.Name+" "+d.Version)
		}
	}
	return out
}

func debRequest(suite, arch string, pkgs []string) string {
	if strings.Contains(suite, " ") {
		// Several suites: quoted, so that they do not read as packages.
		suite = `"` + suite + `"`
	}
	return "suite " + suite + " architecture " + arch + " packages " + strings.Join(pkgs, " ")
}
