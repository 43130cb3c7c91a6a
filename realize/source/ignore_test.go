package source

import (
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The cases come from Docker's documentation of .dockerignore (the
// "Dockerfile reference", section ".dockerignore file") and from the
// behaviour it describes: parent-directory matching, "**", "!" exceptions
// where the last match wins, and a leading "/" meaning the context root.
func TestIgnoreMatchDocumented(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		patterns []string
		path     string
		want     bool
	}{
		// "*/temp*": files and directories starting with temp in any
		// immediate subdirectory of the root.
		{"one level star", []string{"*/temp*"}, "somedir/temporary.txt", true},
		{"one level star dir", []string{"*/temp*"}, "somedir/temp", true},
		{"one level star not root", []string{"*/temp*"}, "temp.txt", false},
		{"one level star not deeper", []string{"*/temp*"}, "a/b/temp.txt", false},
		// "*/*/temp*": two levels below the root.
		{"two levels", []string{"*/*/temp*"}, "somedir/subdir/temporary.txt", true},
		{"two levels not one", []string{"*/*/temp*"}, "somedir/temporary.txt", false},
		// "temp?": one character after temp, in the root.
		{"question mark", []string{"temp?"}, "tempa", true},
		{"question mark one char", []string{"temp?"}, "tempab", false},
		{"question mark not nested", []string{"temp?"}, "x/tempa", false},
		{"question mark not slash", []string{"a?b"}, "a/b", false},
		// "**/*.go": every .go file, the root included.
		{"double star root", []string{"**/*.go"}, "main.go", true},
		{"double star deep", []string{"**/*.go"}, "a/b/c/main.go", true},
		{"double star other ext", []string{"**/*.go"}, "a/main.c", false},
		{"double star middle", []string{"a/**/z"}, "a/z", true},
		{"double star middle deep", []string{"a/**/z"}, "a/b/c/z", true},
		{"double star middle other root", []string{"a/**/z"}, "b/z", false},
		{"double star trailing", []string{"a/**"}, "a/b/c", true},
		// A plain star stays in the root: Docker has no implicit "**/".
		{"star root only", []string{"*.md"}, "README.md", true},
		{"star root only nested", []string{"*.md"}, "docs/x.md", false},
		// Exceptions: the last matching line wins.
		{"exception", []string{"*.md", "!README.md"}, "README.md", false},
		{"exception others", []string{"*.md", "!README.md"}, "CHANGES.md", true},
		{"exception then exclude", []string{"*.md", "!README*.md", "README-secret.md"}, "README-secret.md", true},
		{"exception kept", []string{"*.md", "!README*.md", "README-secret.md"}, "README-x.md", false},
		{"exclude after exception wins", []string{"!README.md", "*.md"}, "README.md", true},
		// A pattern matching a directory matches everything in it.
		{"parent dir", []string{"foo"}, "foo/bar/baz", true},
		{"parent dir glob", []string{"f*"}, "foo/bar", true},
		{"parent dir exception", []string{"build", "!build/keep"}, "build/keep", false},
		{"parent dir exception child", []string{"build", "!build/keep"}, "build/keep/x", false},
		{"parent dir exception sibling", []string{"build", "!build/keep"}, "build/other", true},
		// Leading "/" and trailing "/" are dropped; paths are cleaned.
		{"leading slash", []string{"/foo/bar"}, "foo/bar", true},
		{"trailing slash", []string{"foo/"}, "foo", true},
		{"dot segments", []string{"./a/../b"}, "b", true},
		{"whitespace trimmed", []string{"  a  "}, "a", true},
		{"exception whitespace", []string{"a*", "! ab"}, "ab", false},
		// Character classes and escapes follow filepath.Match.
		{"class", []string{"[a-c].txt"}, "b.txt", true},
		{"class miss", []string{"[a-c].txt"}, "d.txt", false},
		{"class negated", []string{"[^a-c].txt"}, "d.txt", true},
		{"class negated not slash", []string{"a[^x]b"}, "a/b", false},
		{"class with slash range", []string{"a[!-0]b"}, "a/b", false},
		{"escape", []string{`\*.txt`}, "*.txt", true},
		{"escape literal only", []string{`\*.txt`}, "a.txt", false},
		{"regexp chars literal", []string{"a+b(c).txt"}, "a+b(c).txt", true},
		{"dot is literal", []string{"a.b"}, "axb", false},
		{"no patterns", nil, "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := newIgnoreMatcher(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.matches(tt.path); got != tt.want {
				t.Errorf("patterns %q, path %q: matched = %v, want %v", tt.patterns, tt.path, got, tt.want)
			}
		})
	}
}

func TestIgnoreBadPatterns(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"!", "! ", "a[", "[]", "[a-]", "[z-a]", `a\`, "[-a]", `[a\`} {
		_, err := newIgnoreMatcher([]string{"ok", p})
		if err == nil {
			t.Errorf("pattern %q: no error", p)
			continue
		}
		if !errors.Is(err, errIgnoreBadPattern) {
			t.Errorf("pattern %q: error %v does not wrap errIgnoreBadPattern", p, err)
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("pattern %q: error %q does not name the pattern", p, err)
		}
	}
}

func TestParseIgnoreFile(t *testing.T) {
	t.Parallel()
	in := "\xef\xbb\xbf# comment\n\n*.o\n  build/  \n  # not a comment, a pattern\n!keep.o\r\n\t\n"
	got, err := parseIgnoreFile(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"*.o", "build/", "# not a comment, a pattern", "!keep.o"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parsed patterns (-want +got):\n%s", diff)
	}
}

func TestIgnoreMayFlipBelow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		patterns []string
		dir      string
		state    bool
		want     bool
	}{
		{[]string{"build"}, "build", true, false},
		{[]string{"build", "!build/keep"}, "build", true, true},
		{[]string{"build", "!other/keep"}, "build", true, false},
		{[]string{"build", "!*/keep"}, "build", true, true},
		{[]string{"build", "!**/keep"}, "build", true, true},
		{[]string{"build", "!build"}, "build/sub", true, false},
		{[]string{"src"}, "docs", false, false},
		{[]string{"src/*.go"}, "src", false, true},
		{[]string{"**/*.go"}, "docs", false, true},
	}
	for _, tt := range tests {
		m, err := newIgnoreMatcher(tt.patterns)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.mayFlipBelow(tt.dir, tt.state); got != tt.want {
			t.Errorf("patterns %q, dir %q, state %v: mayFlipBelow = %v, want %v", tt.patterns, tt.dir, tt.state, got, tt.want)
		}
	}
}

// FuzzIgnorePatterns feeds arbitrary ignore files and paths to the parser
// and matcher. Beyond "no panic", it checks the two properties the walk
// relies on: pruning a directory never changes a decision below it, and a
// pattern without "**" matches a single name exactly as path.Match does.
func FuzzIgnorePatterns(f *testing.F) {
	seeds := []struct{ file, path string }{
		{"*.md\n!README.md\n", "README.md"},
		{"# c\n**/*.go\n", "a/b/c.go"},
		{"build\n!build/keep\n", "build/keep/x"},
		{"*/temp*\n*/*/temp*\ntemp?\n", "d/temporary"},
		{"[a-c]x\n[^/]y\n", "bx"},
		{`\*a` + "\n", "*a"},
		{"a[\n", "a"},
		{"!\n", "x"},
		{"/a/../b/\n", "b/c"},
		{"a/**/b/**\n", "a/x/b/y/z"},
		{"\xef\xbb\xbf*\n!*.txt\n", "d/e.txt"},
	}
	for _, s := range seeds {
		f.Add(s.file, s.path)
	}
	f.Fuzz(func(t *testing.T, file, rel string) {
		// The checks below re-match every prefix from scratch, quadratic
		// in depth; the walk itself is incremental. Keep inputs small
		// enough for the fuzzer to make progress.
		if len(file) > 4096 || len(rel) > 512 {
			return
		}
		pats, err := parseIgnoreFile(strings.NewReader(file))
		if err != nil {
			return
		}
		m, err := newIgnoreMatcher(pats)
		if err != nil {
			if !errors.Is(err, errIgnoreBadPattern) {
				t.Fatalf("patterns %q: error %v is not a pattern error", pats, err)
			}
			return
		}
		rel = strings.Trim(path.Clean("/"+rel), "/")
		if rel == "" || strings.ContainsRune(rel, 0) {
			return
		}
		final := m.matches(rel)
		parts := strings.Split(rel, "/")
		for i := 1; i < len(parts); i++ {
			dir := strings.Join(parts[:i], "/")
			state := m.matches(dir)
			if !m.mayFlipBelow(dir, state) && final != state {
				t.Fatalf("patterns %q: dir %q decided %v and mayFlipBelow said no flip, but %q decided %v", pats, dir, state, rel, final)
			}
		}
		name := parts[len(parts)-1]
		for i := range m.pats {
			p := &m.pats[i]
			if strings.Contains(p.text, "**") {
				continue
			}
			want, err := path.Match(p.text, name)
			if err != nil {
				continue
			}
			if got := p.match(name); got != want {
				t.Fatalf("pattern %q on %q: match = %v, path.Match = %v", p.text, name, got, want)
			}
		}
	})
}
