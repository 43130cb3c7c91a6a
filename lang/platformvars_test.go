package lang

import (
	"testing"
)

// TestPlatformVariables: the build file is evaluated for the project's
// platform first and for any other on demand; target_platform keeps its
// spelling, os/arch/variant are normalised as BuildKit's TARGET* are.
func TestPlatformVariables(t *testing.T) {
	cfg, _ := mustLoad(t, Options{}, map[string]string{"build.hcl": `
kiln {
  platform = "linux/s390x"
}
locals {
  line = "${target_platform} ${target_os} ${target_arch} [${target_variant}] ${build_platform}"
}
stage "s" {
  env = { LINE = local.line }
}
`})
	build := BuildPlatform()
	cases := []struct{ target, want string }{
		{"", "linux/s390x linux s390x [] " + build},
		{"linux/arm64/v8", "linux/arm64/v8 linux arm64 [] " + build},
		{"linux/arm", "linux/arm linux arm [v7] " + build},
		{"linux/x86_64", "linux/x86_64 linux amd64 [] " + build},
	}
	for _, c := range cases {
		got := cfg
		if c.target != "" {
			g, diags := cfg.ForPlatform(c.target)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			got = g
		}
		if line := got.Stages[0].Env["LINE"]; line != c.want {
			t.Errorf("for %q: %q, want %q", c.target, line, c.want)
		}
	}
	if cfg.TargetPlatform != "linux/s390x" {
		t.Errorf("TargetPlatform %q, want the project's", cfg.TargetPlatform)
	}
}
