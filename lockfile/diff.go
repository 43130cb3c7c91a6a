package lockfile

import (
	"fmt"
	"sort"
	"strings"
)

// ChangeKind says how an entry differs between two locks, or between a lock
// and build.hcl.
type ChangeKind int

// Change kinds. Added, Removed and Changed come from Diff; Missing and
// Stale from Check, which compares a lock with build.hcl without resolving.
const (
	Added ChangeKind = iota
	Removed
	Changed
	Missing
	Stale
)

// Change is one line of an update or a check.
type Change struct {
	Address string
	Kind    ChangeKind
	Old     *Entry // nil for Added and Missing
	New     *Entry // nil for Removed, Missing and Stale
	// Input is build.hcl's request, for Missing and Stale.
	Input *Input
	// Why says, one line each, what changed in a Stale entry's request
	// when its one-line summary cannot: a run step's request is a digest
	// (see StepChanges).
	Why []string
}

// Diff lists what changed from old to new, sorted by address. Either lock
// may be nil (empty).
func Diff(old, new *Lock) []Change {
	get := func(l *Lock, a string) *Entry {
		if l == nil {
			return nil
		}
		return l.Entries[a]
	}
	addrs := map[string]bool{}
	for _, l := range []*Lock{old, new} {
		if l != nil {
			for a := range l.Entries {
				addrs[a] = true
			}
		}
	}
	var out []Change
	for a := range addrs {
		o, n := get(old, a), get(new, a)
		switch {
		case o == nil:
			out = append(out, Change{Address: a, Kind: Added, New: n})
		case n == nil:
			out = append(out, Change{Address: a, Kind: Removed, Old: o})
		case !o.Equal(n):
			out = append(out, Change{Address: a, Kind: Changed, Old: o, New: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// String is the change as one line, ready for a commit message:
//
//   - source.image.base: 3.19@sha256:ab12cd34ef56… -> 3.20@sha256:cd34ab12ef56…
//   - source.http.x: sha256:0123456789ab…
//   - source.git.old: main@0123456789ab
//
// followed by an indented line for each of Why.
func (c Change) String() string {
	s := c.line()
	for _, w := range c.Why {
		s += "\n    " + w
	}
	return s
}

func (c Change) line() string {
	switch c.Kind {
	case Added:
		return "+ " + c.Address + ": " + Summary(c.New)
	case Removed:
		return "- " + c.Address + ": " + Summary(c.Old)
	case Changed:
		o, n := Summary(c.Old), Summary(c.New)
		if o == n {
			s := "• " + c.Address + ": " + o
			if attrs := changedAttrs(c.Old, c.New); len(attrs) > 0 {
				s += " (" + strings.Join(attrs, ", ") + " changed)"
			}
			// Nested blocks (a deb entry's packages) one per line, so that
			// a security update reads as "libc6 2.36-9+deb12u4 -> 2.36-9+deb12u10".
			for _, b := range changedBlocks(c.Old, c.New) {
				s += "\n    " + b
			}
			return s
		}
		return "• " + c.Address + ": " + o + " -> " + n
	case Missing:
		return "+ " + c.Address + ": not locked (" + request(c.Input) + "); run `kiln lock`"
	case Stale:
		return "• " + c.Address + ": locked for " + requestOf(c.Old) + ", build.hcl asks for " + request(c.Input) + "; run `kiln lock`"
	}
	return c.Address
}

// Summary is an entry in a few characters: the request's tag or ref and a
// short pin.
func Summary(e *Entry) string {
	if e == nil {
		return "(none)"
	}
	if k := kinds[e.Type]; k != nil {
		return k.summary(e)
	}
	return e.Type
}

// shortRef keeps a reference's tag, or its last path element when it has
// none: "3.19" for registry/library/alpine:3.19.
func shortRef(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	last := ref[strings.LastIndex(ref, "/")+1:]
	if _, tag, ok := strings.Cut(last, ":"); ok {
		return tag
	}
	return last
}

// short cuts a digest or object id to 12 hex digits: enough to tell pins
// apart in a review, short enough to read.
func short(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok {
		hex, algo = d, ""
	}
	if len(hex) > 12 {
		hex = hex[:12] + "…"
	}
	if algo == "" {
		return hex
	}
	return algo + ":" + hex
}

func changedAttrs(a, b *Entry) []string {
	var out []string
	for _, s := range attrsOf(a.Type) {
		switch s.kind {
		case kindString:
			if *s.str(a) != *s.str(b) {
				out = append(out, s.name)
			}
		case kindInt:
			if *s.num(a) != *s.num(b) {
				out = append(out, s.name)
			}
		case kindMap:
			if !(&Entry{Platforms: a.Platforms}).Equal(&Entry{Platforms: b.Platforms}) {
				out = append(out, s.name)
			}
		case kindList:
			if strings.Join(a.Packages, " ") != strings.Join(b.Packages, " ") {
				out = append(out, s.name)
			}
		}
	}
	return out
}

// changedBlocks describes what changed in the nested blocks of a and b.
func changedBlocks(a, b *Entry) []string {
	if bk, ok := kinds[a.Type].(blockKind); ok {
		return bk.changes(a, b)
	}
	return nil
}

func requestOf(e *Entry) string {
	if k := kinds[e.Type]; k != nil {
		return k.entryRequest(e)
	}
	return e.Type
}

func describe(what, v string, platforms map[string]string) string {
	s := what + " " + v
	if len(platforms) > 0 {
		ps := make([]string, 0, len(platforms))
		for p := range platforms {
			ps = append(ps, p)
		}
		sort.Strings(ps)
		s += " [" + strings.Join(ps, ", ") + "]"
	}
	return s
}

func request(in *Input) string {
	if in == nil {
		return "?"
	}
	if k := kinds[in.Type]; k != nil {
		return k.request(in)
	}
	return fmt.Sprint(in.Type)
}
