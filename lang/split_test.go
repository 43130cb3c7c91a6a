package lang

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/kiln-build/kiln/internal/gen"
)

// loadBoth loads src as load does and with hcl's parser alone
// (loadWhole), and fails unless both give the same Config and the same
// diagnostics, printed with their source context. It reports whether the
// one-pass path (loadOnePass) took the file.
func loadBoth(t *testing.T, src []byte, dir string, opts Options) bool {
	t.Helper()
	l1 := NewLoader(opts)
	var cfg1 *Config
	var diags1 hcl.Diagnostics
	chunked := false
	if cs := splitChunks(src); len(cs) >= 2 {
		cfg1, diags1, chunked = l1.loadOnePass(src, "build.hcl", dir, cs)
	}
	if !chunked {
		cfg1, diags1 = l1.load(src, "build.hcl", dir)
	}
	l2 := NewLoader(opts)
	cfg2, diags2 := l2.loadWhole(src, "build.hcl", dir)
	out1, out2 := renderDiags(l1.Files(), diags1), renderDiags(l2.Files(), diags2)
	if out1 != out2 {
		t.Errorf("diagnostics differ (chunked=%v)\none pass:\n%s\nwhole file:\n%s", chunked, out1, out2)
	}
	// The loaders differ in what they keep for other platforms' loads.
	for _, c := range []*Config{cfg1, cfg2} {
		if c != nil {
			c.views, c.TargetPlatform = nil, ""
		}
	}
	if !reflect.DeepEqual(cfg1, cfg2) {
		t.Errorf("configs differ (chunked=%v)", chunked)
	}
	return chunked
}

// TestChunkedLoadMatchesWhole checks that parsing and decoding stages in
// one pass (stagePlan) is invisible: same configs, same diagnostics in the
// same order, for valid files, broken stage bodies, and the shapes it must
// hand back to the whole-file path.
func TestChunkedLoadMatchesWhole(t *testing.T) {
	dir := t.TempDir()
	large := string(gen.Large(150, 30))
	cases := []struct {
		name    string
		src     string
		chunked bool // whether the one-pass path must take it
	}{
		{"valid", large, true},
		// A few errors on both cores: printing each one scans the
		// whole file, so hundreds would make the test slow.
		{"errors in stage bodies", strings.NewReplacer(
			"from = stage.s41\n", "from = stage.nope\n",
			"TARGET=s77\"", "TARGET=${local.missing}\"",
			"TARGET=s120\"", "TARGET=${42 + \"x\"}\"",
			"s140-${var.version}", "s140-${var.nope}",
		).Replace(large), true},
		{"errors in source bodies", strings.NewReplacer(
			`url = "http://127.0.0.1:8080/f/4.tar.gz"`, `url = ["x"]`,
			`path    = "src/5"`, `path    = local.nope`,
			`url = "http://127.0.0.1:8080/f/22.tar.gz"`, `url = 1 + "a"`,
		).Replace(large), true},
		{"stage cycle", strings.Replace(large, "from = stage.s1\n", "from = stage.s5\n", 1), true},
		{"unknown stage attribute", strings.Replace(large, "  workdir = \"/src\"\n", "  workdir = \"/src\"\n  bogus = 1\n", 1), true},
		{"duplicate stage", strings.Replace(large, `stage "s12" {`, `stage "s11" {`, 1), false},
		{"bad stage name", strings.Replace(large, `stage "s12" {`, `stage "12" {`, 1), false},
		{"syntax error in a stage", strings.Replace(large, `stage "s12" {`, `stage "s12" { = `, 1), false},
		{"syntax error in a header", strings.Replace(large, `locals {`, `locals { = `, 1), false},
		{"indented stage", strings.Replace(large, "image \"app\" {", "  stage \"late\" {\n  }\nimage \"app\" {", 1), false},
		{"top-level attribute after a stage", strings.Replace(large, "image \"app\" {", "  x = 1\nimage \"app\" {", 1), false},
		{"unknown block after a stage", strings.Replace(large, "image \"app\" {", "  bogus {\n  }\nimage \"app\" {", 1), false},
		{"stage with two labels", strings.Replace(large, `stage "s12" {`, `stage "s12" "x" {`, 1), false},
		{"matrix stage", strings.Replace(large, "image \"app\" {", "stage \"m\" {\n  matrix = { v = [\"1\", \"2\"] }\n  name   = \"m-${v}\"\n  from   = stage.s3\n}\n\nimage \"app\" {", 1), false},
		{"for_each stage", strings.Replace(large, "image \"app\" {", "stage \"fe\" {\n  for_each = toset([\"a\", \"b\"])\n  from     = stage.s3\n}\n\nimage \"app\" {", 1), false},
		// A split point inside a heredoc, between stages: the chunks
		// around it are parsed together.
		{"heredoc across a split in sources", strings.Replace(large, "locals {\n", "locals {\n  note = <<EOT\nsource {\nEOT\n", 1), true},
		{"dynamic block in a stage", strings.Replace(large, "image \"app\" {", "stage \"dyn\" {\n  from = stage.s3\n  dynamic \"run\" {\n    for_each = [\"a\", \"b\"]\n    content {\n      shell = \"echo ${run.value}\"\n    }\n  }\n}\n\nimage \"app\" {", 1), true},
		{"matrix in a string", strings.Replace(large, "TARGET=s77\"", "TARGET=matrix-for_each\"", 1), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := loadBoth(t, []byte(c.src), dir, Options{}); got != c.chunked {
				t.Errorf("one-pass path taken = %v, want %v", got, c.chunked)
			}
		})
	}
}

// TestChunkedLoadCorpus runs the bad-input corpus through both load paths.
func TestChunkedLoadCorpus(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			ar := parseArchive(data)
			c := parseScript(t, ar.Comment)
			dir := t.TempDir()
			var src []byte
			for _, f := range ar.Files {
				full := filepath.Join(dir, f.Name)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				if f.Name == "build.hcl" {
					src = bytes.Clone(f.Data)
				}
			}
			if src == nil {
				t.Skip("no build.hcl")
			}
			for i, vf := range c.varFiles {
				c.varFiles[i] = filepath.Join(dir, vf)
			}
			loadBoth(t, src, dir, Options{Vars: c.vars, VarFiles: c.varFiles, Environ: c.environ})
		})
	}
}

// TestLiteralMatchesValue checks that the constant fast path of value
// gives exactly what hcl's evaluation gives, and declines everything else.
func TestLiteralMatchesValue(t *testing.T) {
	for _, c := range []struct {
		src     string
		literal bool
	}{
		{`"a"`, true}, {`"e\u0301"`, true}, {"\"e\u0301\"", true}, {`""`, true},
		{`1`, true}, {`1.5`, true}, {`true`, true}, {`null`, true},
		{`["a", 1, true]`, true}, {`[["x"], "y"]`, true}, {"<<EOT\nhello\nEOT\n", true},
		{`"a${"b"}"`, false}, {`"${1}"`, false}, {`[]`, false}, {`["a", var.x]`, false},
		{`var.x`, false}, {`{a = 1}`, false}, {`-1`, false},
	} {
		expr, diags := hclsyntax.ParseExpression([]byte(c.src), "x.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", c.src, diags)
		}
		got, ok := literal(expr)
		if ok != c.literal {
			t.Errorf("%s: literal = %v, want %v", c.src, ok, c.literal)
			continue
		}
		if !ok {
			continue
		}
		want, diags := expr.Value(nil)
		if diags.HasErrors() || !got.RawEquals(want) {
			t.Errorf("%s: literal gives %#v, hcl gives %#v", c.src, got, want)
		}
	}
}

// TestStageHeaderName checks the hand-written reader against the
// expression it stands for.
func TestStageHeaderName(t *testing.T) {
	re := regexp.MustCompile(`^stage[ \t]+"([A-Za-z_][A-Za-z0-9_-]*)"[ \t]*\{`)
	for _, in := range []string{
		`stage "a" {`, `stage "a"{`, "stage\t\"a_b-9\" \t{\n  x = 1\n}", `stage  "A9" {}`,
		`stage"a" {`, `stage "9a" {`, `stage "-a" {`, `stage "a b" {`, `stage "a" "b" {`,
		`stage "" {`, `stage "a"`, `stage "a" x {`, `stage "a`, `stage `, `stage`, `stages "a" {`,
		`stage "é" {`, `stage "a" {` + "\n", `stage "a_" {`, `stage "_" {`, `stage "a"` + "\n{",
	} {
		name, ok := stageHeaderName([]byte(in))
		m := re.FindStringSubmatch(in)
		if ok != (m != nil) || ok && name != m[1] {
			t.Errorf("%q: got %q, %v; the expression says %q", in, name, ok, m)
		}
	}
}
