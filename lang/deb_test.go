package lang

import (
	"reflect"
	"testing"
)

// TestDebSuites: suite is a string or a list; the request records the
// suites in order with their pins, a single unpinned suite exactly as
// before; repository and signed_by may be maps by suite.
func TestDebSuites(t *testing.T) {
	cfg, _ := mustLoad(t, Options{}, map[string]string{"build.hcl": `
variable "SEC" { default = "http://security.invalid/debian-security" }

source "deb" "one" {
  packages     = ["hello"]
  suite        = "bookworm"
  architecture = "amd64"
}

source "deb" "many" {
  packages     = ["hello"]
  suite        = ["bookworm", "bookworm-security", "bookworm-backports"]
  pin          = { "bookworm-backports" = -1, "bookworm-security" = 990 }
  architecture = "amd64"
  repository   = { "bookworm" = "http://deb.invalid/debian", "bookworm-security" = var.SEC }
  signed_by    = { "bookworm-security" = "/k/sec.gpg" }
}

stage "s" {
  from = source.deb.one
}
stage "t" {
  from = source.deb.many
}
`})
	got := map[string]*Source{}
	for _, s := range cfg.Sources {
		got[s.Name] = s
	}
	if s := got["one"]; s.Suite != "bookworm" || s.SuiteRepositories != nil {
		t.Errorf("one: suite %q, repositories %v", s.Suite, s.SuiteRepositories)
	}
	m := got["many"]
	if want := "bookworm bookworm-security=990 bookworm-backports=-1"; m.Suite != want {
		t.Errorf("many: suite %q, want %q", m.Suite, want)
	}
	if want := map[string]string{"bookworm": "http://deb.invalid/debian", "bookworm-security": "http://security.invalid/debian-security"}; !reflect.DeepEqual(m.SuiteRepositories, want) {
		t.Errorf("many: repositories %v, want %v", m.SuiteRepositories, want)
	}
	if want := map[string]string{"bookworm-security": "/k/sec.gpg"}; !reflect.DeepEqual(m.SuiteSignedBy, want) || m.SignedBy != "" || m.Repository != "" {
		t.Errorf("many: signed_by %v %q, repository %q", m.SuiteSignedBy, m.SignedBy, m.Repository)
	}
}
