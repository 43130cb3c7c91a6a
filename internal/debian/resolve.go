package debian

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ResolveOptions shape a closure.
type ResolveOptions struct {
	// Essential adds every Essential: yes package (and what it needs), as
	// debootstrap does for a bootable system. Off, the closure is only what
	// the named packages need.
	Essential bool
}

// NotFoundError is a package name the index has no package (and no
// provider) for.
type NotFoundError struct {
	Name string
	// Chain is how it was reached: the requested package first.
	Chain []string
}

func (e *NotFoundError) Error() string {
	if len(e.Chain) == 0 {
		return fmt.Sprintf("package %s is not in the index; check its name, suite and architecture", e.Name)
	}
	return fmt.Sprintf("package %s (needed by %s) is not in the index", e.Name, strings.Join(e.Chain, " -> "))
}

// UnsatisfiableError is a dependency no package in the index meets.
type UnsatisfiableError struct {
	Package string
	Field   string
	Group   Group
	Chain   []string
}

func (e *UnsatisfiableError) Error() string {
	return fmt.Sprintf("package %s (reached by %s) has %s: %s, which no package in the index satisfies",
		e.Package, strings.Join(e.Chain, " -> "), e.Field, e.Group)
}

// LoopError is a cycle of Pre-Depends: each package must be configured
// before the next is unpacked, which no order allows (apt refuses too).
type LoopError struct {
	Cycle []string
}

func (e *LoopError) Error() string {
	return fmt.Sprintf("Pre-Depends loop: %s -> %s; no installation order exists", strings.Join(e.Cycle, " -> "), e.Cycle[0])
}

type resolver struct {
	ix       *Index
	selected map[string]*Package // by package name
	provided map[string][]provider
	order    []*Package
	pre      map[string][]string // Pre-Depends edges between selected packages
}

// Resolve returns the closure of names over Pre-Depends and Depends,
// choosing as apt-get install --no-install-recommends does on an empty
// system: each package's candidate (its highest version), its dependencies
// depth-first in field order, and for a group of alternatives nothing when
// one of them is already chosen, else the first alternative that can be
// satisfied (a real package whose candidate meets the constraint before
// the packages providing it). Among several providers of a virtual
// package the one already chosen wins, else the one with the highest
// Priority, then the first by name. Recommends, Suggests, Conflicts and
// Breaks are not considered. Dependency loops are fine (the packages are
// unpacked together), except loops of Pre-Depends, which are a LoopError.
// The result is sorted by name.
func (ix *Index) Resolve(names []string, opts ResolveOptions) ([]*Package, error) {
	r := &resolver{ix: ix, selected: map[string]*Package{}, provided: map[string][]provider{}, pre: map[string][]string{}}
	for _, n := range names {
		c := ix.Candidate(n)
		if c == nil {
			if len(ix.providers[n]) > 0 {
				return nil, fmt.Errorf("package %s is virtual (provided by %s); name one of its providers", n, providerNames(ix.providers[n]))
			}
			return nil, &NotFoundError{Name: n}
		}
		if err := r.install(c, nil); err != nil {
			return nil, err
		}
	}
	if opts.Essential {
		for _, c := range ix.Essential() {
			if err := r.install(c, nil); err != nil {
				return nil, err
			}
		}
	}
	if err := r.checkPreLoops(); err != nil {
		return nil, err
	}
	out := append([]*Package(nil), r.order...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func providerNames(ps []provider) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.pkg.Name)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func (r *resolver) install(p *Package, chain []string) error {
	if r.selected[p.Name] != nil {
		return nil
	}
	r.selected[p.Name] = p
	r.order = append(r.order, p)
	for _, pr := range p.Provides {
		r.provided[pr.Name] = append(r.provided[pr.Name], provider{pkg: p, rel: pr})
	}
	// chain is a stack shared down the recursion (callees only write past
	// its end), copied only into errors: copying it per package costs
	// O(depth²) on a long dependency chain.
	chain = append(chain, p.Name)
	for _, f := range []struct {
		name   string
		groups []Group
	}{{"Pre-Depends", p.PreDepends}, {"Depends", p.Depends}} {
		for _, g := range f.groups {
			if s := r.satisfied(g); s != nil {
				if f.name == "Pre-Depends" {
					r.pre[p.Name] = append(r.pre[p.Name], s.Name)
				}
				continue
			}
			choice := r.choose(g)
			if choice == nil {
				for _, rel := range g {
					if r.ix.Candidate(rel.Name) != nil || len(r.ix.providers[rel.Name]) > 0 {
						return &UnsatisfiableError{Package: p.Name, Field: f.name, Group: g, Chain: slices.Clone(chain)}
					}
				}
				return &NotFoundError{Name: g[0].Name, Chain: slices.Clone(chain)}
			}
			if f.name == "Pre-Depends" {
				r.pre[p.Name] = append(r.pre[p.Name], choice.Name)
			}
			if err := r.install(choice, chain); err != nil {
				return err
			}
		}
	}
	return nil
}

// satisfied returns the chosen package that meets g, if any.
func (r *resolver) satisfied(g Group) *Package {
	for _, rel := range g {
		if p := r.selected[rel.Name]; p != nil && rel.Satisfies(p.Version) {
			return p
		}
		for _, pr := range r.provided[rel.Name] {
			if providerSatisfies(pr, rel) {
				return pr.pkg
			}
		}
	}
	return nil
}

// providerSatisfies: an unversioned Provides meets only unversioned
// relations, as in dpkg.
func providerSatisfies(pr provider, rel Relation) bool {
	if rel.Op == "" {
		return true
	}
	return pr.rel.Op == "=" && rel.Satisfies(pr.rel.Version)
}

func (r *resolver) choose(g Group) *Package {
	for _, rel := range g {
		if c := r.ix.Candidate(rel.Name); c != nil && rel.Satisfies(c.Version) {
			return c
		}
		var cands []*Package
		for _, pr := range r.ix.providers[rel.Name] {
			// Only a provider's candidate version counts, as in apt.
			if r.ix.Candidate(pr.pkg.Name) == pr.pkg && providerSatisfies(pr, rel) {
				cands = append(cands, pr.pkg)
			}
		}
		if len(cands) == 0 {
			continue
		}
		sort.SliceStable(cands, func(i, j int) bool {
			a, b := cands[i], cands[j]
			if pa, pb := priorityRank(a.Priority), priorityRank(b.Priority); pa != pb {
				return pa > pb
			}
			return a.Name < b.Name
		})
		return cands[0]
	}
	return nil
}

func priorityRank(p string) int {
	switch p {
	case "required":
		return 5
	case "important":
		return 4
	case "standard":
		return 3
	case "optional":
		return 2
	case "extra":
		return 1
	}
	return 0
}

func (r *resolver) checkPreLoops() error {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(n string) error
	visit = func(n string) error {
		color[n] = grey
		stack = append(stack, n)
		for _, m := range r.pre[n] {
			if m == n {
				continue // a package pre-depending on what it provides itself
			}
			switch color[m] {
			case grey:
				i := len(stack) - 1
				for stack[i] != m {
					i--
				}
				return &LoopError{Cycle: append([]string(nil), stack[i:]...)}
			case white:
				if err := visit(m); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return nil
	}
	names := make([]string, 0, len(r.pre))
	for n := range r.pre {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if color[n] == white {
			if err := visit(n); err != nil {
				return err
			}
		}
	}
	return nil
}
