package lang

import (
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/kiln-build/kiln/internal/platform"
)

// The expression variables of a multi-platform build, as BuildKit's
// automatic platform ARGs: build_platform is where steps run unless a
// stage says otherwise, target_* the platform a stage is compiled for.
const (
	VarBuildPlatform  = "build_platform"
	VarTargetPlatform = "target_platform"
	VarTargetOS       = "target_os"
	VarTargetArch     = "target_arch"
	VarTargetVariant  = "target_variant"
)

// platformVar reports whether root is one of the platform variables.
func platformVar(root string) bool {
	switch root {
	case VarBuildPlatform, VarTargetPlatform, VarTargetOS, VarTargetArch, VarTargetVariant:
		return true
	}
	return false
}

// BuildPlatform is the platform of the machine kiln runs on, spelled as
// kiln's default platform: linux and the host's architecture.
func BuildPlatform() string { return "linux/" + runtime.GOARCH }

// bindPlatformVars adds the platform variables for target to vars.
// target_platform is the target as the build file or --platform spells
// it, so that `platform = target_platform` hashes as the declared
// platform does; os, arch and variant are normalised (arm64/v8 is arm64
// with no variant, x86_64 is amd64), as BuildKit's TARGETARCH and
// TARGETVARIANT are, because tools consume them (GOARCH=$TARGETARCH).
func bindPlatformVars(vars map[string]cty.Value, target string) {
	vars[VarBuildPlatform] = cty.StringVal(BuildPlatform())
	vars[VarTargetPlatform] = cty.StringVal(target)
	p, err := platform.Parse(target)
	if err != nil {
		// Targets are checked where they are declared; an unparsable one
		// never gets this far, but must not panic if it does.
		p = platform.Platform{}
	}
	n := platform.Normalize(p)
	vars[VarTargetOS] = cty.StringVal(n.OS)
	vars[VarTargetArch] = cty.StringVal(n.Architecture)
	vars[VarTargetVariant] = cty.StringVal(n.Variant)
}

// platformViews holds a config's evaluations for other target platforms.
type platformViews struct {
	mu     sync.Mutex
	reload func(target string) (*Config, hcl.Diagnostics)
	byP    map[string]*Config
}

// ForPlatform returns the build file evaluated with target_platform set
// to target: the config whose stages and sources the compiler lowers for
// that platform. The config it is called on is returned for its own
// target. Only errors are returned: warnings were reported by the first
// load, and each evaluation would repeat them.
func (c *Config) ForPlatform(target string) (*Config, hcl.Diagnostics) {
	if target == c.TargetPlatform || c.views == nil {
		return c, nil
	}
	v := c.views
	v.mu.Lock()
	defer v.mu.Unlock()
	if cfg, ok := v.byP[target]; ok {
		return cfg, nil
	}
	cfg, diags := v.reload(target)
	var errs hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs = append(errs, d)
		}
	}
	if errs.HasErrors() || cfg == nil {
		return nil, errs
	}
	cfg.views = nil // a view is never asked for another platform
	v.byP[target] = cfg
	return cfg, nil
}
