package debian

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultPin is apt's priority for a version in a suite that has neither
// a pin nor NotAutomatic in its Release file.
const DefaultPin = 500

// SuiteSpec is one suite of a deb source with its apt pin priority (0:
// none given, the suite's default applies).
type SuiteSpec struct {
	Name string
	Pin  int
}

// FormatSuites writes suites as a deb source's request records them (the
// lock's suite attribute and the derivation's identifier): names separated
// by spaces, a pinned one followed by "=PRIORITY". A single unpinned suite
// is just its name, as kiln wrote it before several were allowed.
func FormatSuites(suites []SuiteSpec) string {
	parts := make([]string, len(suites))
	for i, s := range suites {
		parts[i] = s.Name
		if s.Pin != 0 {
			parts[i] += "=" + strconv.Itoa(s.Pin)
		}
	}
	return strings.Join(parts, " ")
}

// ParseSuites reads FormatSuites' form back. Suite names are Debian
// archive names (letters, digits, "+-._" and "/" for suites such as
// "bookworm/updates"), each at most once; a priority is a non-zero
// integer (apt gives 0 no meaning).
func ParseSuites(s string) ([]SuiteSpec, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil, fmt.Errorf("no suite given")
	}
	seen := map[string]bool{}
	out := make([]SuiteSpec, 0, len(f))
	for _, w := range f {
		name, prio, pinned := strings.Cut(w, "=")
		if !validSuite(name) {
			return nil, fmt.Errorf("suite %q is not a Debian suite name", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("suite %s is listed twice", name)
		}
		seen[name] = true
		sp := SuiteSpec{Name: name}
		if pinned {
			n, err := strconv.Atoi(prio)
			if err != nil || n == 0 || n < -1000000 || n > 1000000 {
				return nil, fmt.Errorf("suite %s: pin priority %q is not a non-zero whole number", name, prio)
			}
			sp.Pin = n
		}
		out = append(out, sp)
	}
	return out, nil
}

// ValidSuite reports whether name can be a suite of a deb source.
func ValidSuite(name string) bool { return validSuite(name) }

func validSuite(name string) bool {
	if name == "" || len(name) > 128 || name[0] == '/' || name[0] == '.' || strings.Contains(name, "..") || strings.HasSuffix(name, "/") {
		return false
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("+-._/", c):
		default:
			return false
		}
	}
	return true
}
