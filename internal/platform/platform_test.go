package platform

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Platform
	}{
		{"linux/amd64", Platform{OS: "linux", Architecture: "amd64"}},
		{"linux/arm64/v8", Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{"linux/arm/v7", Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{"linux/amd64/v2", Platform{OS: "linux", Architecture: "amd64", Variant: "v2"}},
		{"linux/s390x", Platform{OS: "linux", Architecture: "s390x"}},
		// Aliases are read as written, not rewritten: what is written is
		// what is hashed.
		{"linux/x86_64", Platform{OS: "linux", Architecture: "x86_64"}},
		{"linux/x86-64", Platform{OS: "linux", Architecture: "x86-64"}},
		{"linux/arm64/v8.2", Platform{OS: "linux", Architecture: "arm64", Variant: "v8.2"}},
		{"windows/amd64", Platform{OS: "windows", Architecture: "amd64"}},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got.OS != tc.want.OS || got.Architecture != tc.want.Architecture || got.Variant != tc.want.Variant || got.OSVersion != "" || got.OSFeatures != nil {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := Format(got); s != tc.in {
			t.Errorf("Format(Parse(%q)) = %q: the string as written must survive, it is hashed", tc.in, s)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // besides the quoted input and the hint
	}{
		{"", ""},
		{"amd64", ""},
		{"linux", ""},
		{"linux/amd64/v8/x", ""},
		{"/amd64", "operating system is empty"},
		{"linux/", "architecture is empty"},
		{"linux//v7", "architecture is empty"},
		{"linux/amd64/", "variant is empty"},
		{"Linux/amd64", `operating system "Linux" may hold only`},
		{"linux/AMD64", `architecture "AMD64" may hold only`},
		{"linux/amd 64", `architecture "amd 64"`},
		{"linux/../x", `architecture ".."`},
		{"linux/arm/.v7", `variant ".v7"`},
		{"linux/-x", `architecture "-x"`},
		{"windows(10.0)/amd64", `operating system "windows(10.0)"`},
		{"linux/*", `architecture "*"`},
		{"linux/amd64\n", `architecture "amd64\n"`},
	} {
		_, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) accepted", tc.in)
			continue
		}
		msg := err.Error()
		for _, w := range []string{`"` + strings.ReplaceAll(tc.in, "\n", `\n`) + `"`, "is not a platform", `like "linux/amd64"`, tc.want} {
			if !strings.Contains(msg, w) {
				t.Errorf("Parse(%q): %q does not say %q", tc.in, msg, w)
			}
		}
	}
}

// TestNormalize pins every alias kiln relies on, so that a change of the
// library's rules shows here and not as a build that picks another image.
func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"linux/amd64", "linux/amd64"},
		{"linux/x86_64", "linux/amd64"},
		{"linux/x86-64", "linux/amd64"},
		{"linux/amd64/v1", "linux/amd64"},
		{"linux/amd64/v2", "linux/amd64/v2"},
		{"linux/amd64/v3", "linux/amd64/v3"},
		{"linux/i386", "linux/386"},
		{"linux/arm64", "linux/arm64"},
		{"linux/arm64/v8", "linux/arm64"},
		{"linux/arm64/8", "linux/arm64"},
		{"linux/arm64/v8.0", "linux/arm64"},
		{"linux/aarch64", "linux/arm64"},
		{"linux/aarch64/v8", "linux/arm64"},
		{"linux/arm64/v8.2", "linux/arm64/v8.2"},
		{"linux/arm64/9", "linux/arm64/v9"},
		{"linux/arm64/v9.0", "linux/arm64/v9"},
		{"linux/arm", "linux/arm/v7"},
		{"linux/arm/7", "linux/arm/v7"},
		{"linux/arm/v7", "linux/arm/v7"},
		{"linux/arm/v6", "linux/arm/v6"},
		{"linux/arm/6", "linux/arm/v6"},
		{"linux/arm/5", "linux/arm/v5"},
		{"linux/armhf", "linux/arm/v7"},
		{"linux/armel", "linux/arm/v6"},
		{"macos/arm64", "darwin/arm64"},
		{"linux/s390x", "linux/s390x"},
		{"linux/riscv64", "linux/riscv64"},
		{"windows/amd64", "windows/amd64"},
	} {
		p, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		n := Normalize(p)
		if got := Format(n); got != tc.want {
			t.Errorf("Normalize(%s) = %s, want %s", tc.in, got, tc.want)
		}
		if again := Format(Normalize(n)); again != tc.want {
			t.Errorf("Normalize is not idempotent on %s: %s", tc.in, again)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		want, have string
		ok         bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm64/v8", "linux/aarch64", true},
		{"linux/x86_64", "linux/amd64", true},
		{"linux/amd64", "linux/x86_64", true},
		{"linux/amd64", "linux/amd64/v1", true},
		{"linux/arm", "linux/arm/v7", true},
		{"linux/arm/v7", "linux/arm", true},
		{"linux/arm", "linux/arm/v6", false},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/amd64", "linux/amd64/v2", false},
		{"linux/amd64/v2", "linux/amd64", false},
		{"linux/arm64", "linux/arm64/v8.2", false},
		{"linux/arm64", "linux/arm/v8", false},
		{"linux/amd64", "linux/arm64", false},
		{"linux/amd64", "linux/386", false},
		{"linux/amd64", "windows/amd64", false},
		{"linux/amd64", "unknown/unknown", false},
	} {
		w, err := Parse(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Parse(tc.have)
		if err != nil {
			t.Fatal(err)
		}
		if got := Match(w, h); got != tc.ok {
			t.Errorf("Match(want %s, have %s) = %v, want %v", tc.want, tc.have, got, tc.ok)
		}
	}
}

func TestSameArch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		ok   bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/x86_64", "linux/amd64", true},
		{"linux/amd64/v3", "linux/amd64", true},
		{"linux/aarch64", "linux/arm64/v8", true},
		{"linux/arm/v6", "linux/arm", true},
		{"linux/armhf", "linux/arm/v6", true},
		{"linux/arm64", "linux/arm", false},
		{"linux/amd64", "linux/386", false},
		{"linux/amd64", "windows/amd64", false},
	} {
		a, err := Parse(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := SameArch(a, b); got != tc.ok {
			t.Errorf("SameArch(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.ok)
		}
	}
	if SameArch(Platform{OS: "linux", Architecture: "amd64"}, Platform{Architecture: "amd64"}) {
		t.Error("a platform without an os has the host's arch")
	}
}

// TestMatchIncomplete: an index entry without os or architecture (what
// attestation manifests and broken indexes carry) serves nothing, even
// though Normalize would fill an empty os with the host's.
func TestMatchIncomplete(t *testing.T) {
	t.Parallel()
	want := Platform{OS: "linux", Architecture: "amd64"}
	for _, have := range []Platform{{}, {Architecture: "amd64"}, {OS: "linux"}} {
		if Match(want, have) {
			t.Errorf("Match(%+v, %+v) = true", want, have)
		}
		if Match(have, want) {
			t.Errorf("Match(%+v, %+v) = true", have, want)
		}
	}
}

// TestMatchIgnoresOSVersion: kiln asks for os/arch[/variant] only, so a
// Windows os.version or an os.features list on an index entry does not
// make it unmatchable.
func TestMatchIgnoresOSVersion(t *testing.T) {
	t.Parallel()
	have := Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1", OSFeatures: []string{"win32k"}}
	if !Match(Platform{OS: "windows", Architecture: "amd64"}, have) {
		t.Error("windows/amd64 does not match an entry with an os.version")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm64/v8", "linux/arm", "", "a/b/c/d", "linux/x86_64", "Linux/AMD64", "linux/../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if !strings.Contains(err.Error(), "is not a platform") {
				t.Fatalf("Parse(%q): error %q does not say what is wrong", s, err)
			}
			return
		}
		if got := Format(p); got != s {
			t.Fatalf("Format(Parse(%q)) = %q", s, got)
		}
		if !Match(p, p) {
			t.Fatalf("%q does not match itself", s)
		}
		n := Normalize(p)
		if !Match(p, n) || !Match(n, p) {
			t.Fatalf("%q does not match its normal form %s", s, Format(n))
		}
	})
}
