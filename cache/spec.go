package cache

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Spec is one --cache-from or --cache-to, in buildx's spelling:
//
//	type=registry,ref=REF[,mode=min|max][,key=FILE][,required=true]
//	type=registry,ref=REF[,trusted=PUBFILE][,insecure=true][,required=true]
//	... [,timeout=DURATION]
//	type=local,dest=DIR ...      (export)
//	type=local,src=DIR ...       (import)
type Spec struct {
	// Type is "registry" or "local".
	Type string
	// Ref is the registry reference whose tag holds the cache index.
	Ref string
	// Dir is the OCI layout directory (dest= for export, src= for import).
	Dir string
	// Max exports every derivation built (mode=max), not only the
	// targets' states (mode=min, the default, as in buildx).
	Max bool
	// Key is the private key file that signs exported entries.
	Key string
	// Trusted are public key files; an import uses only entries signed by
	// one of them.
	Trusted []string
	// Insecure lets an import use unsigned entries.
	Insecure bool
	// Required makes a cache that cannot be used an error rather than a
	// warning.
	Required bool
	// Timeout bounds the wait for each answer of a registry and for a
	// download's data to keep coming (timeout=, default 15s): a slow
	// cache is given up, not waited for.
	Timeout time.Duration
}

// String names the cache in messages.
func (s Spec) String() string {
	if s.Type == "local" {
		return "cache " + s.Dir
	}
	return "cache " + s.Ref
}

// ParseFrom parses a --cache-from spec.
func ParseFrom(v string) (Spec, error) { return parse(v, false) }

// ParseTo parses a --cache-to spec.
func ParseTo(v string) (Spec, error) { return parse(v, true) }

func parse(v string, export bool) (Spec, error) {
	flag := "--cache-from"
	dirKey := "src"
	allowed := map[string]bool{"type": true, "ref": true, "src": true, "trusted": true, "insecure": true, "required": true, "timeout": true}
	if export {
		flag, dirKey = "--cache-to", "dest"
		allowed = map[string]bool{"type": true, "ref": true, "dest": true, "mode": true, "key": true, "required": true, "timeout": true}
	}
	var s Spec
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || val == "" {
			return Spec{}, fmt.Errorf("%s %q: %q is not KEY=VALUE", flag, v, kv)
		}
		if !allowed[k] {
			return Spec{}, fmt.Errorf("%s %q: unknown key %q (known: %s)", flag, v, k, keys(allowed))
		}
		var err error
		switch k {
		case "type":
			s.Type = val
		case "ref":
			s.Ref = val
		case "src", "dest":
			s.Dir = val
		case "mode":
			if val != "min" && val != "max" {
				return Spec{}, fmt.Errorf("%s %q: mode is min or max, not %q", flag, v, val)
			}
			s.Max = val == "max"
		case "key":
			s.Key = val
		case "trusted":
			s.Trusted = append(s.Trusted, val)
		case "insecure":
			s.Insecure, err = strconv.ParseBool(val)
		case "required":
			s.Required, err = strconv.ParseBool(val)
		case "timeout":
			if s.Timeout, err = time.ParseDuration(val); err == nil && s.Timeout <= 0 {
				err = fmt.Errorf("not positive")
			}
			if err != nil {
				return Spec{}, fmt.Errorf("%s %q: timeout is a duration such as 10s, not %q", flag, v, val)
			}
		}
		if err != nil {
			return Spec{}, fmt.Errorf("%s %q: %s is true or false, not %q", flag, v, k, val)
		}
	}
	switch s.Type {
	case "registry":
		if s.Ref == "" {
			return Spec{}, fmt.Errorf("%s %q: type=registry needs ref=REGISTRY/REPOSITORY:TAG", flag, v)
		}
	case "local":
		if s.Dir == "" {
			return Spec{}, fmt.Errorf("%s %q: type=local needs %s=DIR", flag, v, dirKey)
		}
	case "":
		return Spec{}, fmt.Errorf("%s %q: missing type=registry or type=local", flag, v)
	default:
		return Spec{}, fmt.Errorf("%s %q: unknown type %q (known: registry, local)", flag, v, s.Type)
	}
	if !export && len(s.Trusted) == 0 && !s.Insecure {
		return Spec{}, fmt.Errorf("%s %q: name the key its entries are signed with (trusted=PUBFILE), or accept unsigned entries with insecure=true", flag, v)
	}
	return s, nil
}

// ParseList splits an environment value (KILN_CACHE_FROM, KILN_CACHE_TO)
// holding several specs separated by ';' or newlines.
func ParseList(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func keys(m map[string]bool) string {
	var ks []string
	for _, k := range []string{"type", "ref", "src", "dest", "mode", "key", "trusted", "insecure", "required", "timeout"} {
		if m[k] {
			ks = append(ks, k)
		}
	}
	return strings.Join(ks, ", ")
}
