package resolve

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// platformString is os/arch[/variant], the form build.hcl and the lock use.
func platformString(p *v1.Platform) string {
	if p == nil || p.OS == "" || p.Architecture == "" {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// platformMatches treats linux/arm64 and linux/arm64/v8 as the same
// platform, as registries and docker do.
func platformMatches(want, have string) bool {
	if want == have {
		return true
	}
	norm := func(s string) string {
		if strings.HasSuffix(s, "/arm64/v8") {
			return strings.TrimSuffix(s, "/v8")
		}
		return s
	}
	return norm(want) == norm(have)
}

// indexPlatforms picks each wanted platform's manifest out of an index; with
// no wanted platforms, every platform it lists (attestation manifests, whose
// platform is unknown/unknown, are skipped).
func indexPlatforms(im *v1.IndexManifest, want []string) (map[string]string, error) {
	out := map[string]string{}
	var have []string
	for _, m := range im.Manifests {
		p := platformString(m.Platform)
		if p == "" || strings.HasPrefix(p, "unknown/") {
			continue
		}
		have = append(have, p)
		if want == nil {
			if _, dup := out[p]; !dup {
				out[p] = m.Digest.String()
			}
		}
	}
	for _, w := range want {
		for _, m := range im.Manifests {
			if platformMatches(w, platformString(m.Platform)) {
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
	p := platformString(&v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant})
	if p == "" {
		return nil, fmt.Errorf("its config names no os/architecture")
	}
	for _, w := range want {
		if !platformMatches(w, p) {
			return nil, fmt.Errorf("it is a single-platform image for %s, build.hcl asks for %s", p, strings.Join(want, ", "))
		}
	}
	out := map[string]string{}
	if len(want) == 0 {
		out[p] = digest
	}
	for _, w := range want {
		out[w] = digest
	}
	return out, nil
}
