package dockerimport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// FuzzConvert feeds any bytes to the importer: it must return an error or
// a build.hcl that parses, never panic, and name a line for every note.
func FuzzConvert(f *testing.F) {
	dfs, _ := filepath.Glob("testdata/*/Dockerfile")
	for _, df := range dfs {
		if b, err := os.ReadFile(df); err == nil {
			f.Add(b, "")
		}
	}
	f.Add([]byte("FROM a AS b\nRUN <<EOF\necho ${x} %{y}\nEOF\nCOPY --from=b --chown=x:y . /\n"), "b")
	f.Add([]byte("ARG A=${B:-c}\nFROM $A\nENV X=\"$${A}\" Y=%{A}\nLABEL \"a b\"=\"\\\"\"\nEXPOSE 1-3/udp\n"), "")
	f.Add([]byte("FROM a\nARG V=v1\nARG E\nENV A=${V%?} B=\\$$V C=${E:-x} D=${V/v/w}\nWORKDIR $V\nUSER ${V#v}\n"), "")
	f.Add([]byte("FROM scratch\nRUN --mount=type=bind,from=x,rw --mount=type=secret,id=s,env=E --network=host [\"a\"]\n"), "")
	f.Add([]byte("FROM a AS b\nSHELL [\"/bin/ash\",\"-c\"]\nONBUILD RUN x\nONBUILD COPY --chown=u:g a /a\nHEALTHCHECK --interval=1500ms --retries=2 CMD [\"c\"]\nFROM b\nRUN --mount=type=ssh,id=k,mode=0644 y\nHEALTHCHECK NONE\n"), "")
	f.Fuzz(func(t *testing.T, src []byte, target string) {
		var (
			res  *Result
			err  error
			done = make(chan struct{})
		)
		go func() {
			defer close(done)
			res, err = Convert(src, Options{Target: target, Contexts: map[string]string{"busybox": "oci-layout://base.oci:v1"}})
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Convert has not returned after 10s on %q", src)
		}
		if err != nil {
			return
		}
		if !utf8.Valid(res.HCL) {
			t.Fatalf("output is not UTF-8:\n%s", res.HCL)
		}
		if _, diags := hclsyntax.ParseConfig(res.HCL, "build.hcl", hcl.InitialPos); diags.HasErrors() {
			t.Fatalf("output does not parse: %v\n%s", diags, res.HCL)
		}
		for _, n := range res.Notes {
			if n.Line <= 0 || n.Instruction == "" {
				t.Fatalf("note without a line or instruction: %+v", n)
			}
		}
	})
}

// FuzzQuote checks that a string written by the importer reads back as
// the same string, quoted or as a heredoc.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a", "${x}", "$${x}", "%{if}", "a\nb\n", "\"\\\t", "EOT\nx\n", "$$", "%", "\u00e9\x01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, string([]rune{markOpen, markClose})) {
			return
		}
		// HCL reads string literals as NFC, as it documents: the
		// reference is HCL's reading of s written as escapes only.
		want := readHCL(t, escapesOnly(strings.ToValidUTF8(s, "\uFFFD")))
		for _, e := range []expr{expr(quoteLiteral(s)), script(s)} {
			if got := readHCL(t, string(e)); got != want {
				t.Fatalf("%q reads back as %q\n%s", want, got, e)
			}
		}
	})
}

// readHCL evaluates a string expression.
func readHCL(t *testing.T, e string) string {
	t.Helper()
	src := "x = " + e + "\n"
	file, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%v\n%s", diags, src)
	}
	attrs, _ := file.Body.JustAttributes()
	v, diags := attrs["x"].Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("%v\n%s", diags, src)
	}
	return v.AsString()
}

// escapesOnly writes s as a quoted HCL string of \u and \U escapes.
func escapesOnly(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		fmt.Fprintf(&b, `\U%08X`, r)
	}
	b.WriteByte('"')
	return b.String()
}
