package debian

import (
	"errors"
	"strings"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0-1", "1.0-2", -1},
		{"1:0.1", "2.0", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0+deb12u1", "1.0", 1},
		{"2.36-9+deb12u14", "2.36-9+deb12u4", 1},
		{"1.10", "1.9", 1},
		{"1.0a", "1.0", 1},
		{"1.0~", "1.0~~", 1},
	} {
		got := CompareVersions(tc.a, tc.b)
		if (got < 0) != (tc.want < 0) || (got > 0) != (tc.want > 0) {
			t.Errorf("CompareVersions(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.want)
		}
	}
}

const testPackages = `Package: app
Version: 1.0
Architecture: amd64
Depends: libfoo (>= 2) | libfoo-compat, mta, libc6:any [amd64], winlib [i386]
Filename: pool/main/a/app.deb
Size: 10
SHA256: 0000000000000000000000000000000000000000000000000000000000000001

Package: libfoo
Version: 1.5
Architecture: amd64
Filename: pool/main/l/libfoo.deb
Size: 10
SHA256: 0000000000000000000000000000000000000000000000000000000000000002

Package: libfoo-compat
Version: 3
Architecture: all
Filename: pool/main/l/libfoo-compat.deb
Size: 10
SHA256: 0000000000000000000000000000000000000000000000000000000000000003

Package: postfix
Version: 3
Architecture: amd64
Priority: optional
Provides: mail-transport-agent, mta
Filename: pool/main/p/postfix.deb
Size: 10
SHA256: 0000000000000000000000000000000000000000000000000000000000000004

Package: exim
Version: 4
Architecture: amd64
Priority: standard
Provides: mta
Filename: pool/main/e/exim.deb
Size: 10
SHA256: 0000000000000000000000000000000000000000000000000000000000000005

Package: libc6
Version: 2.36
Architecture: amd64
Depends: libgcc-s1
Filename: pool/main/g/libc6.deb
Size: 10
SHA256: 0000000000000000000000000000000000000000000000000000000000000006

Package: libgcc-s1
Version: 12
Architecture: amd64
Depends: libc6 (>= 2.35)
Filename: pool/main/g/libgcc.deb
Size: 10
SHA256: 0000000000000000000000000000000000000000000000000000000000000007

Package: pre-a
Version: 1
Architecture: amd64
Pre-Depends: pre-b
Filename: pool/main/p/pre-a.deb
Size: 10
SHA256: 0000000000000000000000000000000000000000000000000000000000000008

Package: pre-b
Version: 1
Architecture: amd64
Pre-Depends: pre-a
Filename: pool/main/p/pre-b.deb
Size: 10
SHA256: 0000000000000000000000000000000000000000000000000000000000000009

Package: broken
Version: 1
Architecture: amd64
Depends: libfoo (>= 9)
Filename: pool/main/b/broken.deb
Size: 10
SHA256: 000000000000000000000000000000000000000000000000000000000000000a

Package: dangling
Version: 1
Architecture: amd64
Depends: nowhere
Filename: pool/main/d/dangling.deb
Size: 10
SHA256: 000000000000000000000000000000000000000000000000000000000000000b

Package: other-arch
Version: 1
Architecture: arm64
Filename: pool/main/o/other.deb
Size: 10
SHA256: 000000000000000000000000000000000000000000000000000000000000000c
`

func testIndex(t *testing.T) *Index {
	ix := NewIndex("amd64")
	if err := ix.Read(strings.NewReader(testPackages)); err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestResolve(t *testing.T) {
	ix := testIndex(t)
	got, err := ix.Resolve([]string{"app"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name+"="+p.Version)
	}
	// libfoo 1.5 is too old: the alternative wins; mta has two providers,
	// exim's higher Priority wins; the Depends loop libc6 <-> libgcc-s1 is
	// fine; winlib is for i386 only.
	want := "app=1.0 exim=4 libc6=2.36 libfoo-compat=3 libgcc-s1=12"
	if strings.Join(names, " ") != want {
		t.Fatalf("got %s, want %s", strings.Join(names, " "), want)
	}
}

func TestResolveErrors(t *testing.T) {
	ix := testIndex(t)
	for _, tc := range []struct {
		pkg  string
		want string
		as   any
	}{
		{"kiln-none", "package kiln-none is not in the index", new(*NotFoundError)},
		{"other-arch", "package other-arch is not in the index", new(*NotFoundError)},
		{"dangling", "package nowhere (needed by dangling) is not in the index", new(*NotFoundError)},
		{"broken", "package broken (reached by broken) has Depends: libfoo (>= 9), which no package in the index satisfies", new(*UnsatisfiableError)},
		{"pre-a", "Pre-Depends loop: pre-a -> pre-b -> pre-a", new(*LoopError)},
		{"mta", "package mta is virtual (provided by exim, postfix)", nil},
	} {
		_, err := ix.Resolve([]string{tc.pkg}, ResolveOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.pkg, err, tc.want)
			continue
		}
		if tc.as != nil && !errors.As(err, tc.as) {
			t.Errorf("%s: %T is not the documented error type", tc.pkg, err)
		}
	}
}

func TestParseDepends(t *testing.T) {
	gs, err := ParseDepends("a (>= 1:2.0) | b:any, c (<< 3) [!amd64], d <!nocheck>, e (> 1)", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, g := range gs {
		got = append(got, g.String())
	}
	if s := strings.Join(got, ", "); s != "a (>= 1:2.0) | b, d, e (>= 1)" {
		t.Fatalf("got %s", s)
	}
	if _, err := ParseDepends("a (>= ", "amd64"); err == nil {
		t.Fatal("an unclosed constraint was accepted")
	}
}

func TestDataTarRejectsGarbage(t *testing.T) {
	if _, err := DataTar(strings.NewReader("not a deb")); err == nil {
		t.Fatal("accepted a non-ar file")
	}
	if _, err := DataTar(strings.NewReader("!<arch>\n")); err == nil || !strings.Contains(err.Error(), "no data.tar") {
		t.Fatalf("got %v", err)
	}
}

// TestIndexRejectsHostileStanzas: fields that end up in the lock, the
// build's pin and paths on disk are checked where they enter.
func TestIndexRejectsHostileStanzas(t *testing.T) {
	sum := strings.Repeat("0", 64)
	stanza := func(field, value string) string {
		f := map[string]string{"Package": "hello", "Version": "1.0-1", "Architecture": "amd64", "Filename": "pool/main/h/hello.deb", "Size": "10", "SHA256": sum}
		f[field] = value
		var b strings.Builder
		for _, k := range []string{"Package", "Version", "Architecture", "Filename", "Size", "SHA256"} {
			b.WriteString(k + ": " + f[k] + "\n")
		}
		return b.String()
	}
	for _, tc := range []struct{ field, value, want string }{
		{"Filename", "../../../etc/passwd", "Filename"},
		{"Filename", "/etc/passwd", "Filename"},
		{"Filename", "pool//x.deb", "Filename"},
		{"Filename", "pool/./x.deb", "Filename"},
		{"Filename", "pool/x y.deb", "Filename"},
		{"Version", "1.0 evil 2", "not a Debian package name"},
		{"Package", "Hello/../x", "not a Debian package name"},
		{"SHA256", "abc", "SHA256"},
		{"SHA256", strings.Repeat("A", 64), "SHA256"},
		{"Size", "-1", "bad Size"},
	} {
		err := NewIndex("amd64").Read(strings.NewReader(stanza(tc.field, tc.value)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q: got %v, want an error with %q", tc.field, tc.value, err, tc.want)
		}
	}
	if err := NewIndex("amd64").Read(strings.NewReader(stanza("Version", "1:2.0~rc1+dfsg-3"))); err != nil {
		t.Errorf("a valid stanza was refused: %v", err)
	}
	dup := stanza("Depends", "") + "depends: evil\nDepends: good\n"
	if err := NewIndex("amd64").Read(strings.NewReader(dup)); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("a field given twice (differing in case) gave %v, want an error", err)
	}
}

// TestResolveErrorChainAfterSiblings: the chain in an error names the path
// that reached the problem, not a sibling visited before it.
func TestResolveErrorChainAfterSiblings(t *testing.T) {
	ix := NewIndex("amd64")
	add := func(name, deps string) {
		gs, err := ParseDepends(deps, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		ix.Add(&Package{Name: name, Version: "1", Architecture: "amd64", Depends: gs})
	}
	add("top", "left, right")
	add("left", "leaf")
	add("leaf", "")
	add("right", "gone")
	_, err := ix.Resolve([]string{"top"}, ResolveOptions{})
	var nf *NotFoundError
	if !errors.As(err, &nf) || strings.Join(nf.Chain, " ") != "top right" {
		t.Fatalf("got %v, want gone needed by top -> right", err)
	}
}
