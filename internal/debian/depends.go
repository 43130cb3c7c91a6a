package debian

import (
	"fmt"
	"strings"
)

// Relation is one package named in a dependency field, with an optional
// version constraint: "libc6 (>= 2.34)".
type Relation struct {
	Name string
	// Op is "", "<<", "<=", "=", ">=" or ">>".
	Op      string
	Version string
}

func (r Relation) String() string {
	if r.Op == "" {
		return r.Name
	}
	return r.Name + " (" + r.Op + " " + r.Version + ")"
}

// Satisfies reports whether version v meets r's constraint.
func (r Relation) Satisfies(v string) bool {
	if r.Op == "" {
		return true
	}
	c := CompareVersions(v, r.Version)
	switch r.Op {
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}

// Group is a list of alternatives, "a | b": any one satisfies it.
type Group []Relation

func (g Group) String() string {
	s := make([]string, len(g))
	for i, r := range g {
		s[i] = r.String()
	}
	return strings.Join(s, " | ")
}

// ParseDepends parses a Depends-style field for the given architecture:
// comma-separated groups of "|"-separated relations. Architecture
// qualifiers (":any", ":native") are dropped, since kiln installs one
// architecture; relations restricted to other architectures ("[!amd64]")
// are left out, and so are build profiles ("<!nocheck>"), which only apply
// to Build-Depends. A group left with no relation is dropped.
func ParseDepends(field, arch string) ([]Group, error) {
	var out []Group
	if strings.TrimSpace(field) == "" {
		return nil, nil
	}
	for _, g := range strings.Split(field, ",") {
		var group Group
		for _, alt := range strings.Split(g, "|") {
			r, keep, err := parseRelation(alt, arch)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", strings.TrimSpace(alt), err)
			}
			if keep {
				group = append(group, r)
			}
		}
		if len(group) > 0 {
			out = append(out, group)
		}
	}
	return out, nil
}

func parseRelation(s, arch string) (Relation, bool, error) {
	s = strings.TrimSpace(s)
	// Build profiles never apply to binary package relations.
	if i := strings.IndexByte(s, '<'); i >= 0 && !strings.Contains(s[:i], "(") {
		s = strings.TrimSpace(s[:i])
	}
	keep := true
	if i := strings.IndexByte(s, '['); i >= 0 {
		j := strings.IndexByte(s, ']')
		if j < i {
			return Relation{}, false, fmt.Errorf("unclosed architecture list")
		}
		keep = archMatches(strings.Fields(s[i+1:j]), arch)
		s = strings.TrimSpace(s[:i] + s[j+1:])
	}
	var r Relation
	name := s
	if i := strings.IndexByte(s, '('); i >= 0 {
		j := strings.IndexByte(s, ')')
		if j < i {
			return Relation{}, false, fmt.Errorf("unclosed version constraint")
		}
		name = strings.TrimSpace(s[:i])
		c := strings.TrimSpace(s[i+1 : j])
		for _, op := range []string{"<<", "<=", ">=", ">>", "=", "<", ">"} {
			if strings.HasPrefix(c, op) {
				r.Op = op
				r.Version = strings.TrimSpace(c[len(op):])
				break
			}
		}
		// "<" and ">" are the deprecated spellings of "<=" and ">=".
		switch r.Op {
		case "<":
			r.Op = "<="
		case ">":
			r.Op = ">="
		case "":
			return Relation{}, false, fmt.Errorf("bad version constraint %q", c)
		}
		if r.Version == "" {
			return Relation{}, false, fmt.Errorf("version constraint without a version")
		}
	}
	if n, _, ok := strings.Cut(name, ":"); ok {
		name = n
	}
	if name == "" || strings.ContainsAny(name, " \t") {
		return Relation{}, false, fmt.Errorf("bad package name %q", name)
	}
	r.Name = name
	return r, keep, nil
}

func archMatches(list []string, arch string) bool {
	neg := len(list) > 0 && strings.HasPrefix(list[0], "!")
	for _, a := range list {
		a = strings.TrimPrefix(a, "!")
		if a == arch || a == "any" || a == "linux-any" || a == "linux-"+arch {
			return !neg
		}
	}
	return neg
}
