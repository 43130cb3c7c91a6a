package export

import (
	"strings"

	"github.com/kiln-build/kiln/internal/platform"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ParsePlatform parses os/arch[/variant], as in build.hcl and --platform,
// with kiln's one set of rules (internal/platform). The platform is written
// into image configs and index descriptors as the build file spells it.
func ParsePlatform(s string) (ocispec.Platform, error) { return platform.Parse(s) }

// FormatPlatform writes os/arch[/variant]; it is also the sort key of
// index manifests.
func FormatPlatform(p ocispec.Platform) string { return platform.Format(p) }

// platformDir is the subdirectory of a platform in split local and tar
// outputs, named as buildx names them, after normalising: linux_amd64,
// linux_arm64 (for linux/arm64/v8 too), linux_arm_v7 (for linux/arm too).
// Two spellings of one platform in one target are refused when it is
// compiled, so two platforms never share a folder.
func platformDir(p ocispec.Platform) string {
	return strings.ReplaceAll(FormatPlatform(platform.Normalize(p)), "/", "_")
}

// PlatformDir is platformDir for a platform as build.hcl spells it: the
// name of its folder in split outputs and of its archive in a docker
// output of several platforms. A platform that does not parse keeps its
// spelling with '/' replaced.
func PlatformDir(spelled string) string {
	p, err := platform.Parse(spelled)
	if err != nil {
		return strings.ReplaceAll(spelled, "/", "_")
	}
	return platformDir(p)
}
