package debian

import (
	"fmt"

	"github.com/kiln-build/kiln/internal/platform"
)

// debianArches are Debian's architecture names for the OCI platforms
// Debian builds, by normalised OCI architecture and variant (dpkg's
// cputable and the names Debian's own images use in their indexes).
var debianArches = map[string]string{
	"amd64":    "amd64",
	"386":      "i386",
	"arm64":    "arm64",
	"arm/v7":   "armhf",
	"arm/v6":   "armel",
	"arm/v5":   "armel",
	"ppc64le":  "ppc64el",
	"s390x":    "s390x",
	"riscv64":  "riscv64",
	"mips64le": "mips64el",
	"loong64":  "loong64",
}

// ArchFor is the Debian architecture whose packages run on p: the
// architecture a deb source names to build for that platform (linux/arm64
// is arm64, linux/arm/v7 armhf, linux/ppc64le ppc64el).
func ArchFor(p platform.Platform) (string, error) {
	if p.OS != "linux" {
		return "", fmt.Errorf("platform %s: Debian packages are for linux", platform.Format(p))
	}
	n := platform.Normalize(p)
	key := n.Architecture
	if n.Variant != "" && n.Architecture == "arm" {
		key += "/" + n.Variant
	}
	if a, ok := debianArches[key]; ok {
		return a, nil
	}
	return "", fmt.Errorf("platform %s has no Debian architecture kiln knows (Debian builds linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6, linux/386, linux/ppc64le, linux/s390x, linux/riscv64, linux/mips64le, linux/loong64)", platform.Format(p))
}
