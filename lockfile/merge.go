package lockfile

import (
	"fmt"
	"sort"
	"strings"
)

// Merge is the three-way merge git runs as a merge driver: base is the
// common ancestor, ours and theirs the two sides. Entries only one side
// touched take that side's version (added, changed or removed); entries
// both sides changed the same way are taken once. Entries both sides
// changed differently are a conflict: Merge then fails listing them, and
// git leaves the file to the user. An empty base is an empty lock.
func Merge(base, ours, theirs []byte) ([]byte, error) {
	parse := func(src []byte, name string) (*Lock, error) {
		if len(src) == 0 {
			return New(), nil
		}
		l, diags := Parse(src, name)
		if diags.HasErrors() && (l == nil || !onlyNotNormal(diags)) {
			return nil, &DiagnosticsError{Diags: diags}
		}
		return l, nil
	}
	b, err := parse(base, "base")
	if err != nil {
		return nil, fmt.Errorf("merging lock files: reading the common ancestor: %w", err)
	}
	o, err := parse(ours, "ours")
	if err != nil {
		return nil, fmt.Errorf("merging lock files: reading our side: %w", err)
	}
	t, err := parse(theirs, "theirs")
	if err != nil {
		return nil, fmt.Errorf("merging lock files: reading their side: %w", err)
	}
	out := New()
	addrs := map[string]bool{}
	for _, l := range []*Lock{b, o, t} {
		for a := range l.Entries {
			addrs[a] = true
		}
	}
	var conflicts []string
	for a := range addrs {
		be, oe, te := b.Entries[a], o.Entries[a], t.Entries[a]
		var pick *Entry
		switch {
		case oe.Equal(te):
			pick = oe
		case oe.Equal(be):
			pick = te
		case te.Equal(be):
			pick = oe
		default:
			conflicts = append(conflicts, fmt.Sprintf("  %s: ours %s, theirs %s", a, side(oe), side(te)))
			continue
		}
		if pick != nil {
			out.Entries[a] = pick
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return nil, fmt.Errorf("merging lock files: both sides changed the same inputs differently:\n%s\nresolve with `kiln lock --update ADDRESS` on the merged build.hcl", strings.Join(conflicts, "\n"))
	}
	return out.Bytes(), nil
}

func side(e *Entry) string {
	if e == nil {
		return "removed it"
	}
	return Summary(e)
}
