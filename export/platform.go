package export

import (
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ParsePlatform parses os/arch[/variant], as in build.hcl and --platform.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
		return ocispec.Platform{}, fmt.Errorf("platform %q is not os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// FormatPlatform writes os/arch[/variant]; it is also the sort key of
// index manifests.
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// platformDir is the subdirectory of a platform in split local and tar
// outputs, as buildx names them: linux_amd64, linux_arm_v7.
func platformDir(p ocispec.Platform) string {
	return strings.ReplaceAll(FormatPlatform(p), "/", "_")
}
