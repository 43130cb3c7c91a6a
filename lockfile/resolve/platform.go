package resolve

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kiln-build/kiln/internal/platform"
)

// platformOf reads a registry's platform with kiln's rules. ok is false
// for what the lock cannot key: no platform, and spellings build.hcl could
// not ask for, which the lock would refuse to read back.
func platformOf(p *v1.Platform) (platform.Platform, bool) {
	if p == nil {
		return platform.Platform{}, false
	}
	pl := platform.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
	if _, err := platform.Parse(platform.Format(pl)); err != nil {
		return platform.Platform{}, false
	}
	return pl, true
}

// indexPlatforms picks each wanted platform's manifest out of an index; with
// no wanted platforms, every platform it lists (attestation manifests, whose
// platform is unknown/unknown, are skipped). The lock is keyed by the
// platform as build.hcl spells it; the manifest is the first, in index
// order, whose platform is the same once normalised (linux/arm64 serves
// linux/arm64/v8), as realize selects it.
func indexPlatforms(im *v1.IndexManifest, want []string) (map[string]string, error) {
	out := map[string]string{}
	var have []string
	for _, m := range im.Manifests {
		p, ok := platformOf(m.Platform)
		if !ok || p.OS == "unknown" {
			continue
		}
		s := platform.Format(p)
		have = append(have, s)
		if want == nil {
			if _, dup := out[s]; !dup {
				out[s] = m.Digest.String()
			}
		}
	}
	for _, w := range want {
		wp, err := platform.Parse(w)
		if err != nil {
			return nil, err
		}
		for _, m := range im.Manifests {
			if p, ok := platformOf(m.Platform); ok && platform.Match(wp, p) {
				out[w] = m.Digest.String()
				break
			}
		}
		if _, ok := out[w]; !ok {
			sort.Strings(have)
			return nil, fmt.Errorf("it has no manifest for platform %s (it has: %s)", w, strings.Join(have, ", "))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("its index lists no platform manifests")
	}
	return out, nil
}

// imagePlatforms records a single-platform image under the platform its
// config declares, refusing it when a different platform is wanted.
func imagePlatforms(img v1.Image, digest string, want []string) (map[string]string, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	p, ok := platformOf(&v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant})
	if !ok {
		if cf.OS == "" || cf.Architecture == "" {
			return nil, fmt.Errorf("its config names no os/architecture")
		}
		return nil, fmt.Errorf("its config's platform (os %q, architecture %q, variant %q) is not os/arch[/variant] as kiln writes it", cf.OS, cf.Architecture, cf.Variant)
	}
	have := platform.Format(p)
	for _, w := range want {
		wp, err := platform.Parse(w)
		if err != nil {
			return nil, err
		}
		if !platform.Match(wp, p) {
			return nil, fmt.Errorf("it is a single-platform image for %s, build.hcl asks for %s", have, strings.Join(want, ", "))
		}
	}
	out := map[string]string{}
	if len(want) == 0 {
		out[have] = digest
	}
	for _, w := range want {
		out[w] = digest
	}
	return out, nil
}
