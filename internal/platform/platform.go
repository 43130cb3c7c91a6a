// Package platform is kiln's one reading of "os/arch[/variant]": how
// build.hcl, the lock and --platform spell a platform, how two spellings of
// one platform are found equal, and which manifest of an index serves a
// requested platform. lang, lockfile, realize and export all go through it,
// so a platform the lock resolves is the platform realize fetches.
//
// Two rules keep digests stable. Parse checks a string but never rewrites
// it: Format(Parse(s)) == s, because the string as written is hashed into
// derivations and keys the lock, and "linux/arm64/v8" must keep the digest
// it has always had. Equality is decided only after Normalize, which applies
// containerd's aliases (the rules BuildKit and docker use), so that
// "linux/arm64" and "linux/arm64/v8", or "linux/x86_64" and "linux/amd64",
// select the same manifest.
package platform

import (
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Platform is the OCI platform, so that values move between kiln, image
// indexes and go-containerregistry without conversion of meaning.
type Platform = ocispec.Platform

const hint = `write os/arch[/variant], like "linux/amd64" or "linux/arm64/v8"`

// Parse reads os/arch[/variant]. Each part is lowercase letters, digits,
// '_', '.' or '-', beginning with a letter or digit (OCI platform values
// are Go's GOOS/GOARCH names; the lowercase rule leaves one spelling fewer
// to hash differently). The error quotes s and says which part is wrong.
func Parse(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Platform{}, fmt.Errorf("%q is not a platform; %s", s, hint)
	}
	for i, p := range parts {
		if err := checkPart(p); err != nil {
			what := [...]string{"operating system", "architecture", "variant"}[i]
			return Platform{}, fmt.Errorf("%q is not a platform: its %s %s; %s", s, what, err, hint)
		}
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func checkPart(p string) error {
	if p == "" {
		return fmt.Errorf("is empty")
	}
	for i, c := range p {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return fmt.Errorf("%q may hold only lowercase letters, digits, '_', '.' and '-', and must begin with a letter or digit", p)
		}
	}
	return nil
}

// Format writes os/arch[/variant], the inverse of Parse. It is also the
// sort key of index manifests and the key of a lock's platforms.
func Format(p Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Normalize maps a platform to containerd's canonical spelling: x86_64 and
// x86-64 are amd64, aarch64 is arm64, arm64/v8 is arm64, arm without a
// variant is arm/v7, armhf is arm/v7, amd64/v1 is amd64. It is for
// comparing, never for what is hashed.
func Normalize(p Platform) Platform {
	return platforms.Normalize(p)
}

// Match reports whether have, the platform an image manifest declares,
// serves want, the platform build.hcl asks for: the same operating system,
// architecture and variant once both are normalised. A variant is matched
// exactly (as containerd's strict matcher does): an index entry for
// linux/amd64/v3 does not serve linux/amd64, and linux/arm serves only
// arm/v7, so kiln never picks a manifest the machine may not run just
// because the index lists it first. A manifest with no os or architecture
// (attestations, broken indexes) serves nothing.
func Match(want, have Platform) bool {
	if have.OS == "" || have.Architecture == "" || want.OS == "" || want.Architecture == "" {
		return false
	}
	w, h := Normalize(want), Normalize(have)
	return w.OS == h.OS && w.Architecture == h.Architecture && w.Variant == h.Variant
}

// SameArch reports whether a and b are one operating system and
// architecture once normalised, whatever their variants. It is the check
// for what the variant does not decide: that a step's platform is this
// machine's (the kernel, not kiln, refuses an amd64/v3 binary on a v2 CPU),
// and that an image config agrees with the index entry it was picked by
// (configs often omit the variant their descriptor names, arm/v6 above all).
func SameArch(a, b Platform) bool {
	if a.OS == "" || a.Architecture == "" || b.OS == "" || b.Architecture == "" {
		return false
	}
	a, b = Normalize(a), Normalize(b)
	return a.OS == b.OS && a.Architecture == b.Architecture
}
