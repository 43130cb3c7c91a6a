package lockfile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/lang"
)

func debEntry() *Entry {
	return &Entry{
		Address: "source.deb.tools", Type: TypeDeb, Suite: "bookworm", Architecture: "amd64",
		Packages: []string{"hello"},
		Debs: []Deb{
			{Name: "hello", Version: "2.10-3", Architecture: "amd64", Filename: "pool/main/h/hello/hello_2.10-3_amd64.deb", SHA256: strings.Repeat("a", 64), Size: 53000},
			{Name: "libc6", Version: "2.36-9", Architecture: "amd64", Filename: "pool/main/g/glibc/libc6_2.36-9_amd64.deb", SHA256: strings.Repeat("b", 64), Size: 2700000},
		},
	}
}

func TestDebRoundTrip(t *testing.T) {
	l := New()
	e := debEntry()
	l.Entries[e.Address] = e
	b := l.Bytes()
	for _, want := range []string{`source "deb" "tools" {`, `packages     = ["hello"]`, `  package "libc6" {`, `    filename     = "pool/main/g/glibc/libc6_2.36-9_amd64.deb"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("lock lacks %q:\n%s", want, b)
		}
	}
	back, diags := Parse(b, "build.lock.hcl")
	if diags.HasErrors() {
		t.Fatalf("%s\n%s", diags.Error(), b)
	}
	if !back.Entries[e.Address].Equal(e) {
		t.Fatalf("round trip changed the entry: %+v", back.Entries[e.Address])
	}

	src := &lang.Source{Type: "deb", Name: "tools", Suite: "bookworm", Architecture: "amd64", Packages: []string{"hello"}}
	pin, ok := back.Pin(src, "linux/amd64")
	if !ok || !strings.HasPrefix(pin, "hello 2.10-3 amd64 pool/main/h/hello/hello_2.10-3_amd64.deb "+strings.Repeat("a", 64)+" 53000\nlibc6 ") {
		t.Fatalf("Pin = %q, %v", pin, ok)
	}
	src.Packages = []string{"hello", "curl"}
	if _, ok := back.Pin(src, "linux/amd64"); ok {
		t.Fatal("a changed package list still matched the lock")
	}
}

func TestDebParseErrors(t *testing.T) {
	l := New()
	l.Entries["source.deb.tools"] = debEntry()
	good := string(l.Bytes())
	for _, tc := range []struct{ from, to, want string }{
		{`sha256       = "` + strings.Repeat("a", 64), `sha256       = "xyz`, "is not a sha256"},
		{`    size         = 53000`, ``, "has no size"},
		{`pool/main/g/glibc/libc6_2.36-9_amd64.deb`, `/etc/passwd`, "must be a path below the repository base"},
		{`  package "libc6" {`, `  package "libc6" "x" {`, "has one label"},
		{`  package "libc6" {`, `  package "hello" {`, "pinned twice"},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		_, diags := Parse([]byte(bad), "build.lock.hcl")
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("replacing %q: got %v, want %q", tc.from, diags, tc.want)
		}
	}
}

func TestDebChangeString(t *testing.T) {
	a, b := debEntry(), debEntry()
	b.Debs[1].Version = "2.36-10"
	c := Change{Address: a.Address, Kind: Changed, Old: a, New: b}
	if s := c.String(); !strings.Contains(s, "libc6 2.36-9 -> 2.36-10") {
		t.Fatalf("change reads %q", s)
	}
}

// TestDebParseStrict: problems that a rewrite by `kiln lock` must not
// carry over are errors, never mere normal-form problems.
func TestDebParseStrict(t *testing.T) {
	l := New()
	e := debEntry()
	e.Debs = append(e.Debs, Deb{Name: "zlib1g", Version: "1", Architecture: "amd64", Filename: "pool/z.deb", SHA256: strings.Repeat("c", 64), Size: 1})
	l.Entries[e.Address] = e
	good := string(l.Bytes())
	for _, tc := range []struct{ from, to, want string }{
		// hello, libc6, hello: duplicates that are not neighbours.
		{`  package "zlib1g" {`, `  package "hello" {`, "pinned twice"},
		{`version      = "2.36-9"`, `version      = "2.36-9 evil"`, "has spaces"},
		{`version      = "2.36-9"`, `version      = "2.36-9\nx 1 amd64 pool/x.deb"`, "has spaces"},
		{`pool/main/g/glibc/libc6_2.36-9_amd64.deb`, `pool/a b.deb`, "has spaces"},
		{`  package "libc6" {`, `  package "lib c6" {`, "has one label"},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		if bad == good {
			t.Fatalf("%q is not in the lock", tc.from)
		}
		_, diags := Parse([]byte(bad), "build.lock.hcl")
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) || onlyNotNormal(diags) {
			t.Errorf("replacing %q: got %v, want %q", tc.from, diags, tc.want)
		}
	}
}

// TestDebUpdateLines: an updated deb entry prints one line per package that
// moved, old version -> new, under the entry's line.
func TestDebUpdateLines(t *testing.T) {
	deb := func(name, version string, n int) Deb {
		return Deb{Name: name, Version: version, Architecture: "amd64", Filename: "pool/" + name + "_" + version + ".deb", SHA256: fmt.Sprintf("%064x", n), Size: 10}
	}
	entry := func(debs ...Deb) *Entry {
		return &Entry{Address: "source.deb.base", Type: TypeDeb, Suite: "bookworm bookworm-security", Architecture: "amd64", Packages: []string{"hello"}, Debs: debs}
	}
	old := entry(deb("hello", "2.10-3", 1), deb("libc6", "2.36-9+deb12u4", 2), deb("libold", "1", 3))
	new := entry(deb("hello", "2.10-3", 1), deb("libc6", "2.36-9+deb12u10", 4), deb("libnew", "2", 5))
	got := Change{Address: "source.deb.base", Kind: Changed, Old: old, New: new}.String()
	want := "• source.deb.base: bookworm bookworm-security/amd64, 3 packages\n" +
		"    libc6 2.36-9+deb12u4 -> 2.36-9+deb12u10\n" +
		"    +libnew 2\n" +
		"    -libold 1"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// armEntry is debEntry resolved for arm64.
func armEntry() *Entry {
	e := debEntry()
	e.Architecture = "arm64"
	e.Debs[0].Architecture, e.Debs[0].Filename, e.Debs[0].SHA256 = "arm64", "pool/main/h/hello/hello_2.10-3_arm64.deb", strings.Repeat("c", 64)
	e.Debs[1].Architecture, e.Debs[1].Filename, e.Debs[1].SHA256 = "arm64", "pool/main/g/glibc/libc6_2.36-9_arm64.deb", strings.Repeat("d", 64)
	return e
}

// TestDebSeveralArches: a source locked for two architectures is two
// blocks of one address, reads back as one entry with Others, and pins
// each architecture's closure for the evaluation that asks for it.
func TestDebSeveralArches(t *testing.T) {
	l := New()
	e := debEntry()
	e.Others = []*Entry{armEntry()}
	l.Entries[e.Address] = e
	b := l.Bytes()
	if n := strings.Count(string(b), `source "deb" "tools" {`); n != 2 {
		t.Fatalf("%d blocks for source.deb.tools, want 2:\n%s", n, b)
	}
	back, diags := Parse(b, "build.lock.hcl")
	if diags.HasErrors() {
		t.Fatalf("%s\n%s", diags.Error(), b)
	}
	if !back.Entries[e.Address].Equal(e) {
		t.Fatalf("round trip changed the entry: %+v", back.Entries[e.Address])
	}
	src := &lang.Source{Type: "deb", Name: "tools", Suite: "bookworm", Architecture: "arm64", Packages: []string{"hello"}}
	pin, ok := back.Pin(src, "linux/arm64")
	if !ok || !strings.HasPrefix(pin, "hello 2.10-3 arm64 pool/main/h/hello/hello_2.10-3_arm64.deb "+strings.Repeat("c", 64)) {
		t.Fatalf("Pin(arm64) = %q, %v", pin, ok)
	}
	src.Architecture = "amd64"
	if pin, ok := back.Pin(src, "linux/amd64"); !ok || !strings.Contains(pin, "amd64.deb") {
		t.Fatalf("Pin(amd64) = %q, %v", pin, ok)
	}
	src.Architecture = "riscv64"
	if _, ok := back.Pin(src, "linux/riscv64"); ok {
		t.Fatal("an architecture the lock lacks was pinned")
	}

	in := &Input{Address: e.Address, Type: TypeDeb, Source: src, Arches: []string{"amd64", "arm64"}}
	if !in.Matches(back.Entries[e.Address]) {
		t.Fatal("the two-architecture entry does not match its two-architecture request")
	}
	in.Arches = []string{"amd64", "arm64", "riscv64"}
	if in.Matches(back.Entries[e.Address]) {
		t.Fatal("an entry lacking riscv64 matched a request for it")
	}
	in.Arches, src.Architecture = nil, "amd64"
	if in.Matches(back.Entries[e.Address]) {
		t.Fatal("a two-architecture entry matched a one-architecture request (it should be re-locked)")
	}

	// The same architecture twice is still a duplicate.
	dup := strings.Replace(string(b), `"arm64"`, `"amd64"`, 1)
	if _, diags := Parse([]byte(dup), "build.lock.hcl"); !diags.HasErrors() || !strings.Contains(diags.Error(), "locked twice") {
		t.Fatalf("two amd64 blocks: %v", diags)
	}
}
