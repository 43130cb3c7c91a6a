package remotedef

import (
	"regexp"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Ref
		err  string
	}{
		{spec: "https://example.com/x/build.hcl", want: Ref{URL: "https://example.com/x/build.hcl"}},
		{spec: "http://127.0.0.1:8080/b.hcl?x=1", want: Ref{URL: "http://127.0.0.1:8080/b.hcl?x=1"}},
		{spec: "https://example.com/repo.git", want: Ref{Git: true, URL: "https://example.com/repo.git", Path: "build.hcl"}},
		{spec: "https://example.com/repo.git#v1.2:deploy", want: Ref{Git: true, URL: "https://example.com/repo.git", Ref: "v1.2", Path: "deploy/build.hcl"}},
		{spec: "git+file:///srv/repo#main:a/b/kiln.hcl", want: Ref{Git: true, URL: "file:///srv/repo", Ref: "main", Path: "a/b/kiln.hcl"}},
		{spec: "git+https://host/repo#:sub/", want: Ref{Git: true, URL: "https://host/repo", Path: "sub/build.hcl"}},
		{spec: "git://host/repo#0123456789012345678901234567890123456789", want: Ref{Git: true, URL: "git://host/repo", Ref: "0123456789012345678901234567890123456789", Path: "build.hcl"}},
		{spec: "git@host:org/repo.git#main", want: Ref{Git: true, URL: "git@host:org/repo.git", Ref: "main", Path: "build.hcl"}},
		// A path cannot climb out of the repository.
		{spec: "git+file:///r#main:../../etc/build.hcl", want: Ref{Git: true, URL: "file:///r", Ref: "main", Path: "etc/build.hcl"}},
		{spec: "https://example.com/page#main", err: "not a git repository URL"},
		{spec: "git+/srv/repo", err: "after git+ comes a URL"},
		{spec: "git+file:///r#--upload-pack=x", err: "is not a git ref"},
		{spec: "build.hcl", err: "not a remote definition"},
	} {
		got, err := Parse(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %+v, %v; want an error with %q", tc.spec, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func TestIsRemote(t *testing.T) {
	for spec, want := range map[string]bool{
		"build.hcl": false, "./x/build.hcl": false, "/abs/build.hcl": false, "dir:with:colons/build.hcl": false,
		"https://h/b.hcl": true, "git+file:///r": true, "git@h:r.git": true, "ssh://h/r": true,
	} {
		if got := IsRemote(spec); got != want {
			t.Errorf("IsRemote(%q) = %v, want %v", spec, got, want)
		}
	}
}

// FuzzParse: any spec parses or fails with an error, never a panic; a
// git ref never starts with "-" (git would read it as an option) and a
// path never leaves the repository.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"https://example.com/repo.git#v1:sub", "git+file:///r#main:a/b.hcl", "git@h:r.git#x",
		"http://127.0.0.1/b.hcl", "git+https://h/r#:../..", "https://h/p#x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		r, err := Parse(spec)
		if err != nil || !r.Git {
			return
		}
		if strings.HasPrefix(r.Ref, "-") || strings.HasPrefix(r.Path, "/") || r.Path == ".." || strings.HasPrefix(r.Path, "../") {
			t.Fatalf("Parse(%q) = %+v", spec, r)
		}
	})
}

// TestScpLike checks the hand-written matcher against the expression it
// stands for.
func TestScpLike(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:`)
	for _, in := range []string{
		"git@github.com:o/r.git", "a@b:", "a.b-c_d@h-1.x:p", "@h:p", "u@:p", "u@h", "u@h/p:x",
		"u h@h:p", "u@h_x:p", "u@@h:p", "u@h@x:p", "build.hcl", "./dir/build.hcl", "C:/x", "é@h:p",
		"u@h::", "u:x@h:p",
	} {
		if got, want := scpLike(in), re.MatchString(in); got != want {
			t.Errorf("%q: got %v, the expression says %v", in, got, want)
		}
	}
}
