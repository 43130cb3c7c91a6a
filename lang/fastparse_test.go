package lang

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/rogpeppe/go-internal/txtar"
	"github.com/zclconf/go-cty/cty"

	"github.com/kiln-build/kiln/internal/gen"
)

// sameAsHCL checks fastParse against hclsyntax.ParseConfig on src: where
// the fast parser accepts src, hcl must too, with an identical tree.
// It returns whether the fast parser accepted.
func sameAsHCL(t *testing.T, src []byte, pos hcl.Pos) bool {
	t.Helper()
	fast, ok := fastParse(src, "build.hcl", pos)
	if !ok {
		return false
	}
	f, diags := hclsyntax.ParseConfig(src, "build.hcl", pos)
	if diags.HasErrors() {
		t.Fatalf("fastParse accepted what hcl rejects (%s):\n%s", diags.Error(), src)
	}
	if d := cmp.Diff(f.Body, fast, cmpOpts...); d != "" {
		t.Fatalf("fastParse tree differs from hcl's (-hcl +fast):\n%s\nsource:\n%s", d, src)
	}
	return true
}

var cmpOpts = []cmp.Option{
	cmp.AllowUnexported(hclsyntax.Body{}),
	cmpopts.EquateComparable(hcl.TraverseRoot{}, hcl.TraverseAttr{}),
	cmp.Comparer(func(a, b cty.Value) bool {
		return a.Type().Equals(b.Type()) && a.RawEquals(b)
	}),
	// stage.NAME["KEY"] (a for_each stage's instance) holds an index.
	cmp.Comparer(func(a, b hcl.TraverseIndex) bool {
		return a.SrcRange == b.SrcRange && a.Key.Type().Equals(b.Key.Type()) && a.Key.RawEquals(b.Key)
	}),
}

// buildFiles collects the build files in the repository: every .hcl file
// under the module and every file of the CLI's testscripts.
func buildFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	root := filepath.Join("..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "rootfs" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		switch {
		case strings.HasSuffix(path, ".hcl"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files[path] = b
		case strings.HasSuffix(path, ".txtar"):
			a, err := txtar.ParseFile(path)
			if err != nil {
				return err
			}
			for _, f := range a.Files {
				if strings.HasSuffix(f.Name, ".hcl") {
					files[path+":"+f.Name] = f.Data
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// syntaxBodies parses the repository's build files with hcl and returns
// every body in them, nested ones included.
func syntaxBodies(t *testing.T) []*hclsyntax.Body {
	t.Helper()
	var bodies []*hclsyntax.Body
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		bodies = append(bodies, b)
		for _, blk := range b.Blocks {
			walk(blk.Body)
		}
	}
	for _, src := range buildFiles(t) {
		if f, diags := hclsyntax.ParseConfig(src, "build.hcl", hcl.InitialPos); !diags.HasErrors() {
			walk(f.Body.(*hclsyntax.Body))
		}
	}
	return bodies
}

func TestFastParseMatchesHCL(t *testing.T) {
	files := buildFiles(t)
	if len(files) < 100 {
		t.Fatalf("found only %d build files; is the walk rooted right?", len(files))
	}
	accepted := 0
	for name, src := range files {
		t.Run(name, func(t *testing.T) {
			if sameAsHCL(t, src, hcl.InitialPos) {
				accepted++
			}
			for _, c := range splitChunks(src) {
				sameAsHCL(t, c.bytes(src), c.pos)
			}
		})
	}
	t.Logf("fast path took %d of %d build files whole", accepted, len(files))
	if accepted < len(files)/2 {
		t.Errorf("fast path took only %d of %d build files", accepted, len(files))
	}
}

// The generated benchmark file must stay inside the subset, or the
// benchmarks silently measure hcl's parser again.
func TestFastParseTakesGenerated(t *testing.T) {
	src := gen.Large(300, 30)
	for _, c := range splitChunks(src) {
		if !sameAsHCL(t, c.bytes(src), c.pos) {
			t.Fatalf("fast path refused chunk at line %d:\n%s", c.pos.Line, c.bytes(src))
		}
	}
}

func TestFastParseCases(t *testing.T) {
	accept := []string{
		"",
		"\n\n",
		"# only a comment",
		"// comment\na = 1\n",
		"a = 1",
		"a = \"\"\n",
		"a = \"x\"\nb = 2\n",
		"a = \"${b}\"\n",
		"a = \"x${b.c}y${d}\"\n",
		"a = \"${ b .\n c }\"\n",
		"a = \"\\n\\t\\\"\\\\ $${x} %%{y} $ % $x\"\n",
		"a = [\n  1,\n  \"b\", # c\n  c.d,\n]\n",
		"a = []\nb = {}\n",
		"a = {\n  b = 1, c = \"d\"\n  \"e\" : f\n  # g\n}\n",
		"a = [{\n b = 1\n}, [2]]\n",
		"a = true\nb = false\nc = null\n",
		"block {\n}\n",
		"block \"x\" \"y\" z {\n  a = 1 // c\n  inner {}\n}\n",
		"block \"l\\\"q\" {\n}",
		"a\t=\t1\n",
		"a = 0755\n",
		"a = \"a$\"\nb = \"%\"\nc = \"${x}$\"\n",
		"a = f()\nb = g(1, \"x\", [h(c.d)],)\nc = \"${upper(var.x)}\"\nd = f (\n  1,\n  2\n)\n",
	}
	for _, src := range accept {
		if !sameAsHCL(t, []byte(src), hcl.InitialPos) {
			t.Errorf("fast path refused %q", src)
		}
	}
	refuse := []string{
		"a = 1 + 2\n", "a = b ? c : d\n", "a = f(b...)\n", "a = f(1).x\n", "a = b[0]\n", "a = b.0\n",
		"a = b.*.c\n", "a = [for x in y: x]\n", "a = {for k, v in y: k => v}\n",
		"a = <<EOF\nx\nEOF\n", "a = \"%{if b}c%{endif}\"\n", "a = \"${~b}\"\n",
		"a = 1.5\n", "a = 1e3\n", "a = -1\n", "a = !b\n", "a = (b)\n",
		"/* c */\na = 1\n", "a = \"\\u00e9\"\n", "a = \"é\"\n", "a = 1\r\n",
		"a = 1\na = 2\n", "b { a = 1 }\n", "a = 1 b = 2\n", "a =\n1\n",
		"b {\n", "b }\n", "a = \"x\n", "b \"${x}\" {\n}\n", "a = {\n b = \n 1\n}\n",
		"a = b::c(1)\n", "a = \"$$${x}\"\n",
	}
	for _, src := range refuse {
		if _, ok := fastParse([]byte(src), "build.hcl", hcl.InitialPos); ok {
			t.Errorf("fast path took %q, which is outside its subset", src)
		}
	}
}

// FuzzFastParse checks that the fast parser never disagrees with hcl's.
func FuzzFastParse(f *testing.F) {
	f.Add([]byte("a = \"x${b.c}y\"\nblock \"l\" {\n  c = [1, {d = e}]\n}\n"))
	f.Add(bytes.Clone(gen.Large(3, 3)))
	f.Fuzz(func(t *testing.T, src []byte) {
		sameAsHCL(t, src, hcl.InitialPos)
	})
}

// A body cleanBody passes must decode through hcl's Content without a
// diagnostic and to the same attributes and blocks: the test offers every
// body of every build file in the repository to every schema lang decodes
// with.
func TestCleanBodyMatchesContent(t *testing.T) {
	schemas := []*hcl.BodySchema{rootSchema, projectSchema, stageSchema, imageSchema, artifactSchema,
		groupSchema, variableSchema, validationSchema}
	for _, m := range []map[string]*hcl.BodySchema{sourceSchemas, stepSchemas, mountSchemas} {
		for _, s := range m {
			schemas = append(schemas, s)
		}
	}
	clean := 0
	for _, b := range syntaxBodies(t) {
		for _, s := range schemas {
			if _, ok := cleanBody(b, s); !ok {
				continue
			}
			clean++
			c, diags := b.Content(s)
			if diags.HasErrors() {
				t.Fatalf("cleanBody passed a body Content rejects: %s", diags.Error())
			}
			if len(c.Attributes) != len(b.Attributes) || len(c.Blocks) != len(b.Blocks) {
				t.Fatalf("Content keeps %d attributes and %d blocks of %d and %d",
					len(c.Attributes), len(c.Blocks), len(b.Attributes), len(b.Blocks))
			}
			for name, a := range c.Attributes {
				if a.Expr != b.Attributes[name].Expr {
					t.Fatalf("attribute %s differs", name)
				}
			}
			for i, blk := range c.Blocks {
				if blk.Body != b.Blocks[i].Body {
					t.Fatalf("block %d differs", i)
				}
			}
		}
	}
	if clean < 100 {
		t.Errorf("cleanBody passed only %d bodies", clean)
	}
}

// The decoding shortcuts must give the Config and the diagnostics of hcl's
// general path, for every build file in the repository and for the
// shapes they take a shortcut on, with the cases that must fall back.
func TestShortcutsMatchGeneralDecode(t *testing.T) {
	files := buildFiles(t)
	stage := func(body string) string {
		return "variable \"v\" {\n  default = \"1\"\n}\n\nlocals {\n  l = [\"a\"]\n}\n\nstage \"s\" {\n  from = \"scratch\"\n" + body + "}\n\nimage \"i\" {\n  from = stage.s\n}\n"
	}
	for i, body := range []string{
		"  env = { A = \"x\", B = var.v, \"C\" = \"${var.v}-1\" }\n",
		"  env = { A = 1, B = true }\n",
		"  env = { A = null }\n",
		"  env = { A = var.nope, B = local.nope }\n",
		"  env = { A = [1] }\n",
		"  env = { A = \"x\", A = \"y\" }\n",
		"  env = { \"1A\" = \"x\" }\n",
		"  env = { (var.v) = \"x\" }\n",
		"  env = { \"é\" = \"x\" }\n",
		"  env = local.l\n",
		"  run {\n    command = [\"a\", \"b\"]\n  }\n",
		"  run {\n    command = [\"a\", 1, true]\n  }\n",
		"  run {\n    command = [\"a\", null]\n  }\n",
		"  run {\n    command = []\n  }\n",
		"  run {\n    command = \"make install\"\n  }\n",
		"  copy {\n    from = stage.s\n    src = [\"a\", \"b\"]\n    dest = \"/\"\n  }\n",
		"  copy {\n    from = stage.s\n    src = [\"a\", var.v]\n    dest = \"/\"\n  }\n",
		"  run {\n    shell = \"x\"\n    unknown = 1\n  }\n",
		"  run \"label\" {\n    shell = \"x\"\n  }\n",
	} {
		files[fmt.Sprintf("case%d", i)] = []byte(stage(body))
	}
	// References: plainRef resolves plain ones, and every other shape
	// and every error must come out as evaluation has it.
	refs := "source \"local\" \"d\" {\n  path = \".\"\n}\n\nstage \"a\" {\n  from = \"scratch\"\n}\n\n" +
		"stage \"fe\" {\n  for_each = { x = 1 }\n  from = \"scratch\"\n}\n\n" +
		"stage \"m\" {\n  matrix = { v = [\"1\"] }\n  name = \"m-${v}\"\n  from = stage.a\n}\n\n"
	for i, from := range []string{
		"stage.a", "source.local.d", "stage.nope", "source.local.nope", "source.image.d", "source.local",
		"source", "stage", "stage.fe", "stage.fe[\"x\"]", "stage.fe.x", "stage.m", "stage.m-1", "stage[\"a\"]",
		"stage.a.b", "source.local.d.e", "stage.a[0]", "source[\"local\"].d", "(stage.a)", "local.r", "var.v",
		"\"scratch\"", "null", "\"alpine\"", "each.key", "image.i",
	} {
		body := fmt.Sprintf("stage \"s\" {\n  from = %s\n  copy {\n    from = %s\n    src = \".\"\n    dest = \"/\"\n  }\n"+
			"  run {\n    shell = \"x\"\n    mount \"input\" {\n      target = \"/i\"\n      from = %s\n    }\n  }\n}\n\n", from, from, from)
		files[fmt.Sprintf("ref%d", i)] = []byte("variable \"v\" {\n  default = \"x\"\n}\n\nlocals {\n  r = stage.a\n}\n\n" + refs + body +
			"image \"i\" {\n  from = " + from + "\n}\n\nartifact \"t\" {\n  from = " + from + "\n  path = \"/x\"\n}\n")
	}
	// Strings: plainString reads literals, plain var, local and instance
	// values and templates of those; everything else, and every error,
	// must come out as evaluation has it.
	vals := "variable \"v\" {\n  default = \"1\"\n}\n\nvariable \"n\" {\n  default = 2\n}\n\n" +
		"variable \"e\" {\n  default = \"e\u0301\"\n}\n\nvariable \"o\" {\n  default = { a = \"b\" }\n}\n\n" +
		"locals {\n  s = \"x\"\n  t = \"${var.v}-t\"\n  m = { a = \"b\" }\n  z = null\n  r = stage.a\n}\n\n" +
		"stage \"a\" {\n  from = \"scratch\"\n}\n\n"
	for i, attr := range []string{
		"env = { A = var.v, B = local.s, C = \"${var.v}-${local.t}\", D = \"\" }",
		"env = { A = var.n }", "env = { A = \"${var.n}x\" }", "env = { A = \"a\u0301${var.e}\" }",
		"env = { A = \"${var.e}\u0301\" }", "env = { A = local.c1 }", "env = { A = \"-${local.c1}\" }",
		"env = { A = local.m }", "env = { A = \"${local.m}\" }", "env = { A = \"${var.nope}\" }",
		"env = { A = var.nope }", "env = { A = local.z }", "env = { A = \"${local.z}\" }", "env = { A = local.r }",
		"env = { A = \"${local.r}\" }", "env = { A = target_os }", "env = { A = \"${target_os}-${var.v}\" }",
		"env = { A = local.s.x }", "env = { A = var.o.a }", "env = { A = var }", "env = { A = each.key }",
		"env = { A = \"${var.v}%{ if true }y%{ endif }\" }", "env = { A = \"${var.v}${var.v}${var.v}${var.v}${var.v}${var.v}${var.v}${var.v}${var.v}\" }",
		"workdir = \"/${var.v}\"", "workdir = var.v", "workdir = \"/${var.nope}\"", "workdir = \"/${var.n}\"",
		"workdir = \"/${local.m}\"", "workdir = \"${var.v}\"", "workdir = \"/${stage.a}\"", "user = local.s", "user = local.c1",
		"run {\n    shell = \"echo ${var.v} ${local.s}\"\n  }", "run {\n    shell = \"${var.v}\"\n  }",
		"run {\n    shell = \"x${local.c1}\"\n  }", "run {\n    shell = \"x\"\n    timeout = \"${var.n}m\"\n  }",
		"mkdir {\n    path = \"/${var.e}\"\n    mode = \"0${var.n}\"\n  }", "mkdir {\n    path = \"/${var.o}\"\n    mode = var.n\n  }",
	} {
		pre := vals
		if strings.Contains(attr, "local.c1") {
			// A cycle makes both locals unknown, and the load fails.
			pre += "locals {\n  c1 = local.c2\n  c2 = local.c1\n}\n\n"
		}
		files[fmt.Sprintf("str%d", i)] = []byte(pre + "stage \"s\" {\n  from = stage.a\n  " + attr + "\n}\n")
	}
	instances := func(extra string) []byte {
		return []byte(vals + "stage \"m\" {\n  matrix = { v = [\"1\", \"2\"] }\n  name = \"m-${v}\"\n  from = stage.a\n" +
			"  env = { A = \"${v}-x\", B = v, C = var.v" + extra + " }\n  workdir = \"/${v}\"\n  run {\n    shell = \"echo ${v}\"\n  }\n}\n\n" +
			"stage \"f\" {\n  for_each = { x = \"1\", y = \"2\" }\n  from = stage.a\n  env = { A = each.key, B = \"${each.value}-${var.v}\" }\n}\n")
	}
	files["str-in-instance"] = instances("")
	files["str-in-instance-bad"] = instances(", D = \"${var}\", E = each.nope")
	files["ref-in-instance"] = []byte(refs + "stage \"n\" {\n  matrix = { stage = [\"1\"] }\n  name = \"n-${stage}\"\n  from = stage.a\n}\n")
	for name, src := range files {
		path := filepath.Join(t.TempDir(), "build.hcl")
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		load := func(general bool) string {
			l := NewLoader(Options{})
			l.generalDecode = general
			cfg, diags := l.Load(path)
			if cfg != nil {
				cfg.Dir = ""
			}
			js, err := json.MarshalIndent(cfg, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%s\n%s", js, renderDiags(l.Files(), diags))
		}
		if fast, general := load(false), load(true); fast != general {
			t.Errorf("%s: the shortcuts change the result:\n%s", name, cmp.Diff(general, fast))
		}
	}
}

func TestAppendVariablesMatchesHCL(t *testing.T) {
	var exprs []hcl.Expression
	for _, b := range syntaxBodies(t) {
		for _, a := range b.Attributes {
			exprs = append(exprs, a.Expr)
		}
	}
	for _, src := range []string{`{ a = b, (c) = d, e.f = g, "h" = i }`, `[for x in y : x if z]`, `"${a}${b.c}"`, `a ? b : c`, `f(a, [b.c], g(d))`} {
		e, diags := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		exprs = append(exprs, e)
	}
	for _, e := range exprs {
		if d := cmp.Diff(e.Variables(), appendVariables(nil, e), cmpOpts...); d != "" {
			t.Fatalf("appendVariables differs from Variables at %s (-hcl +ours):\n%s", e.Range(), d)
		}
	}
}

// TestFastParseGenerated writes random files inside the fast parser's
// subset, with odd spacing, comments and nesting, and checks the parser
// takes each one and agrees with hcl on it.
func TestFastParseGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	g := &subsetGen{r: r}
	for i := 0; i < 3000; i++ {
		src := g.file()
		if !sameAsHCL(t, src, hcl.InitialPos) {
			if _, diags := hclsyntax.ParseConfig(src, "build.hcl", hcl.InitialPos); diags.HasErrors() {
				t.Fatalf("the generator wrote an invalid file (%s):\n%s", diags.Error(), src)
			}
			t.Fatalf("fast path refused a file inside its subset:\n%s", src)
		}
	}
}

type subsetGen struct {
	r *rand.Rand
	b bytes.Buffer
	n int // for unique attribute names
}

func (g *subsetGen) pick(choices ...string) string { return choices[g.r.IntN(len(choices))] }

func (g *subsetGen) sp() string { return g.pick("", " ", "  ", "\t") }

func (g *subsetGen) eol() string { return g.pick("\n", "\n", " # c\n", " // c\n", "\n\n") }

func (g *subsetGen) name() string {
	g.n++
	return fmt.Sprintf("%s%d", g.pick("a", "b_c", "d-e", "_f", "Ab"), g.n)
}

func (g *subsetGen) file() []byte {
	g.b.Reset()
	g.b.WriteString(g.pick("", "\n", "# head\n", " "))
	g.body(0)
	if g.r.IntN(4) == 0 {
		g.b.WriteString("# tail")
	}
	return bytes.Clone(g.b.Bytes())
}

func (g *subsetGen) body(depth int) {
	for range g.r.IntN(4) + 1 {
		if depth < 3 && g.r.IntN(3) == 0 {
			g.b.WriteString(g.pick("stage", "run", "mount", "x"))
			for range g.r.IntN(3) {
				g.b.WriteString(" " + g.pick(`"l"`, `"a b"`, `"q\"q"`, "bare", `""`))
			}
			g.b.WriteString(g.sp() + "{" + g.pick("\n", " # c\n"))
			if g.r.IntN(4) > 0 {
				g.body(depth + 1)
			}
			g.b.WriteString("}" + g.eol())
			continue
		}
		g.b.WriteString(g.name() + g.sp() + "=" + g.sp())
		g.expr(0, false)
		g.b.WriteString(g.sp() + g.eol())
	}
}

// expr writes an expression; in brackets, newlines may go between tokens.
func (g *subsetGen) expr(depth int, inBrackets bool) {
	nl := func() string {
		if inBrackets {
			return g.pick("", "", " ", "\n  ", " # c\n")
		}
		return g.sp()
	}
	max := 9
	if depth > 2 {
		max = 5
	}
	switch g.r.IntN(max) {
	case 0:
		g.b.WriteString(g.pick("0", "7", "0755", "1700000000"))
	case 1:
		g.b.WriteString(g.pick("true", "false", "null"))
	case 2, 3:
		g.b.WriteString(g.pick("var", "local", "source", "stage", "x") + g.pick("", ".a", ".image.base", ".s1", " . b"))
	case 4:
		g.b.WriteByte('"')
		for range g.r.IntN(4) {
			if depth < 3 && g.r.IntN(3) == 0 {
				g.b.WriteString("${" + g.pick("", " ", "~ "[1:]))
				g.expr(depth+1, true)
				g.b.WriteString(g.pick("", " ") + "}")
				continue
			}
			g.b.WriteString(g.pick("text", " ", `\n`, `\"`, `\\`, "$${x}", "%%{y}", "$a", "%a", "a$b", "/usr/bin", `\t`))
		}
		g.b.WriteByte('"')
	case 5, 6:
		g.b.WriteString("[" + nl())
		n := g.r.IntN(4)
		for i := range n {
			g.expr(depth+1, true)
			if i < n-1 || g.r.IntN(2) == 0 {
				g.b.WriteString(nl() + "," + nl())
			}
		}
		g.b.WriteString(nl() + "]")
	case 7:
		g.b.WriteString("{" + g.pick("", "\n", " "))
		for range g.r.IntN(4) {
			g.b.WriteString(g.pick("k"+fmt.Sprint(g.r.IntN(1000)), `"k v"`) + g.sp() + g.pick("=", ":") + g.sp())
			g.expr(depth+1, false)
			g.b.WriteString(g.sp() + g.pick(",", "\n", ", ", " # c\n"))
		}
		g.b.WriteString("}")
	case 8:
		g.b.WriteString(g.pick("f", "upper", "file") + g.pick("", " ") + "(" + nl())
		n := g.r.IntN(3)
		for i := range n {
			g.expr(depth+1, true)
			if i < n-1 || g.r.IntN(3) == 0 {
				g.b.WriteString(nl() + "," + nl())
			}
		}
		g.b.WriteString(nl() + ")")
	}
}

// A diagnostic in a chunk the fast parser read still names its block:
// the navigation data comes from a reparse by hcl when it is printed.
func TestFastParsedChunksNameTheirBlock(t *testing.T) {
	src := "stage \"a\" {\n  from = \"scratch\"\n}\n\nstage \"b\" {\n  from = stage.nope\n}\n\nimage \"app\" {\n  from = stage.b\n  cmd  = local.nope\n}\n"
	_, diags, l, _ := loadSrc(t, Options{}, map[string]string{"build.hcl": src})
	out := renderDiags(l.Files(), diags)
	for _, want := range []string{`line 6, in stage "b":`, `line 11, in image "app":`} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, out)
		}
	}
}
