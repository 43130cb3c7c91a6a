package attest

import (
	"regexp"
	"testing"
)

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"type=provenance,mode=max", "type=sbom,referrers=true", `"type=sbom"`, "type=", ",,", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			return
		}
		again, err := ParseSpec(sp.String())
		if err != nil || again != sp {
			t.Fatalf("%q parsed to %v, which reads back as %v (%v)", s, sp, again, err)
		}
	})
}

var licenseExpr = regexp.MustCompile(`^(NOASSERTION|[()A-Za-z0-9.+ -]+)$`)

func FuzzDeclared(f *testing.F) {
	f.Add([]byte(copyrightDEP5))
	f.Add([]byte("Format: copyright-format\n\nFiles: *\nLicense: GPL-2+ or , and\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l := newLicenses()
		if got := l.declared(b); !licenseExpr.MatchString(got) {
			t.Fatalf("expression %q", got)
		}
	})
}

func FuzzParseGoSum(f *testing.F) {
	f.Add([]byte("golang.org/x/text v0.14.0 h1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=\ngolang.org/x/text v0.14.0/go.mod h1:x=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mods, err := ParseGoSum(b)
		if err != nil {
			return
		}
		for _, m := range mods {
			if m.Path == "" || m.Version == "" || len(m.Hash) < 3 || m.Hash[:3] != "h1:" {
				t.Fatalf("module %+v from %q", m, b)
			}
		}
	})
}
