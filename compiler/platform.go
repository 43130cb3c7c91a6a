package compiler

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/internal/platform"
)

// platformEnv sets BuildKit's automatic platform variables in a run
// step's environment: where the step runs (BUILD*, the stage's platform)
// and what it builds for (TARGET*, the platform the stage is compiled
// for), with values normalised as BuildKit's are (linux/arm64, not
// linux/arm64/v8). Only a stage that names its platform gets them: the
// variables are hashed with the environment, so setting them in every
// step would change every existing exec digest, and a stage that runs
// where it builds for has no use for them (target_arch and the other
// expression variables serve it). The stage's and the step's env are
// applied after these and may override them.
func (c *compiler) platformEnv(env map[string]string, run string) {
	target := c.target
	if target == "" {
		target = run
	}
	set := func(prefix, spelled string) {
		p, err := platform.Parse(spelled)
		if err != nil {
			return
		}
		n := platform.Normalize(p)
		env[prefix+"PLATFORM"] = platform.Format(n)
		env[prefix+"OS"] = n.OS
		env[prefix+"ARCH"] = n.Architecture
		env[prefix+"VARIANT"] = n.Variant
	}
	set("BUILD", run)
	set("TARGET", target)
}

// samePlatformTwice refuses a target listing one platform twice, in two
// spellings or one: its index would hold two manifests for it, and which
// one a client pulls would be up to the client.
func samePlatformTwice(t *Target, rng *hcl.Range) hcl.Diagnostics {
	seen := map[string]string{}
	for _, s := range t.Platforms {
		p, err := platform.Parse(s)
		if err != nil {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid platform", Subject: rng, Detail: fmt.Sprintf("%s: %v.", t.Address, err)}}
		}
		key := platform.Format(platform.Normalize(p))
		if prev, ok := seen[key]; ok {
			how := "twice"
			if prev != s {
				how = fmt.Sprintf("as %q and %q, one platform once normalised", prev, s)
			}
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Platform listed twice", Subject: rng,
				Detail: fmt.Sprintf("%s lists platform %s %s; list each platform once (in %s).", t.Address, key, how, strings.Join(t.Platforms, ", "))}}
		}
		seen[key] = s
	}
	return nil
}
