package lang

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// archive is a txtar archive. The format is parsed here rather than with
// go-internal/txtar, whose golang.org/x/tools dependency has no go.sum
// entry in this module yet.
type archive struct {
	Comment []byte
	Files   []archiveFile
}

type archiveFile struct {
	Name string
	Data []byte
}

func parseArchive(data []byte) *archive {
	a := &archive{}
	var cur *archiveFile
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if bytes.HasPrefix(trimmed, []byte("-- ")) && bytes.HasSuffix(trimmed, []byte(" --")) && len(trimmed) > 6 {
			a.Files = append(a.Files, archiveFile{Name: string(bytes.TrimSpace(trimmed[3 : len(trimmed)-3]))})
			cur = &a.Files[len(a.Files)-1]
			continue
		}
		if cur == nil {
			a.Comment = append(a.Comment, line...)
		} else {
			cur.Data = append(cur.Data, line...)
		}
	}
	return a
}

func formatArchive(a *archive) []byte {
	var b bytes.Buffer
	b.Write(a.Comment)
	for _, f := range a.Files {
		fmt.Fprintf(&b, "-- %s --\n", f.Name)
		b.Write(f.Data)
	}
	return b.Bytes()
}

var update = flag.Bool("update", false, "rewrite golden files and fill @LOC@ placeholders in the bad-input corpus")

const corpusDir = "../cmd/kiln/testdata/script/bad"

// corpusCase is what TestBadCorpus reads from one testscript file: the
// kiln plan flags, the environment, and the stderr expectations.
type corpusCase struct {
	vars     map[string]string
	varFiles []string
	environ  []string
	want     []string // positive stderr regexps
	wantNot  []string // negative stderr regexps
}

func parseScript(t *testing.T, comment []byte) corpusCase {
	t.Helper()
	c := corpusCase{vars: map[string]string{}}
	sawPlan := false
	for _, line := range strings.Split(string(comment), "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, " #"); i >= 0 && !strings.Contains(line[:i], "'") {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "env "):
			c.environ = append(c.environ, strings.TrimPrefix(line, "env "))
		case strings.HasPrefix(line, "! kiln plan"):
			sawPlan = true
			args := strings.Fields(strings.TrimPrefix(line, "! kiln plan"))
			for i := 0; i < len(args); i++ {
				switch args[i] {
				case "--var":
					i++
					k, v, _ := strings.Cut(unquote(args[i]), "=")
					c.vars[k] = v
				case "--var-file":
					i++
					c.varFiles = append(c.varFiles, unquote(args[i]))
				default:
					t.Fatalf("unsupported kiln plan argument %q", args[i])
				}
			}
		case strings.HasPrefix(line, "! stderr "):
			c.wantNot = append(c.wantNot, unquote(strings.TrimPrefix(line, "! stderr ")))
		case strings.HasPrefix(line, "stderr "):
			c.want = append(c.want, unquote(strings.TrimPrefix(line, "stderr ")))
		default:
			t.Fatalf("unsupported script line %q", line)
		}
	}
	if !sawPlan {
		t.Fatalf("no '! kiln plan' line")
	}
	return c
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// renderDiags prints diagnostics as kiln plan does: hcl's text writer
// (width 0, no colour), preceded for each diagnostic by the one-line
// "file:line,col-col: summary; detail" form that scripts match locations
// with.
func renderDiags(files map[string]*hcl.File, diags hcl.Diagnostics) string {
	var buf bytes.Buffer
	for _, d := range diags {
		fmt.Fprintln(&buf, d.Error())
	}
	w := hcl.NewDiagnosticTextWriter(&buf, files, 0, false)
	_ = w.WriteDiagnostics(diags)
	return buf.String()
}

func TestBadCorpus(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 45 {
		t.Errorf("the bad-input corpus has %d files, want at least 45", len(paths))
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
			for _, f := range ar.Files {
				full := filepath.Join(dir, f.Name)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for i, vf := range c.varFiles {
				c.varFiles[i] = filepath.Join(dir, vf)
			}
			l := NewLoader(Options{Vars: c.vars, VarFiles: c.varFiles, Environ: c.environ})
			cfg, diags := l.Load(filepath.Join(dir, "build.hcl"))
			out := renderDiags(l.Files(), diags)
			if !diags.HasErrors() || cfg != nil {
				t.Fatalf("Load succeeded, want an error; diagnostics:\n%s", out)
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && d.Subject == nil && !strings.Contains(d.Summary, "undeclared variable") {
					t.Errorf("diagnostic without a source range: %s", d.Error())
				}
			}
			if *update && containsLoc(c.want) {
				fillLoc(t, p, ar, c, diags)
				return
			}
			for _, re := range c.want {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stderr does not match %q:\n%s", re, out)
				}
			}
			for _, re := range c.wantNot {
				if regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stderr matches %q but must not:\n%s", re, out)
				}
			}
		})
	}
}

func containsLoc(want []string) bool {
	for _, w := range want {
		if strings.Contains(w, "@LOC@") {
			return true
		}
	}
	return false
}

// fillLoc replaces @LOC@ with the location of the first error whose text
// matches the script's other positive regexps: the author writes the
// expected message, the tool records where it is reported, and the
// reviewer checks the recorded location in the diff.
func fillLoc(t *testing.T, path string, ar *archive, c corpusCase, diags hcl.Diagnostics) {
	var loc string
	for _, d := range diags {
		if d.Severity != hcl.DiagError || d.Subject == nil {
			continue
		}
		text := d.Error()
		ok := true
		for _, re := range c.want {
			if !strings.Contains(re, "@LOC@") && !strings.Contains(re, "panic") && !regexp.MustCompile(re).MatchString(text) {
				ok = false
			}
		}
		if ok {
			loc = filepath.Base(d.Subject.Filename) + ":" + strings.TrimPrefix(d.Subject.String(), d.Subject.Filename+":")
			break
		}
	}
	if loc == "" {
		t.Fatalf("no diagnostic matches; got:\n%s", renderDiags(nil, diags))
	}
	ar.Comment = bytes.Replace(ar.Comment, []byte("@LOC@"), []byte(regexp.QuoteMeta(loc)+": "), 1)
	if err := os.WriteFile(path, formatArchive(ar), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", filepath.Base(path), loc)
}
