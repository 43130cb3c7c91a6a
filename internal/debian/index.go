package debian

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/internal/lazyre"
)

// Package is one binary package stanza of a Packages index.
type Package struct {
	Name         string
	Version      string
	Architecture string
	// Filename is the path of the .deb below the repository's base URL
	// ("pool/main/h/hello/hello_2.10-3_amd64.deb").
	Filename string
	SHA256   string
	Size     int64
	Priority string
	// Essential packages are assumed present by every other package: they
	// do not need to be named in a Depends field.
	Essential  bool
	PreDepends []Group
	Depends    []Group
	// Provides lists the virtual packages this one stands for, with a
	// version when the field gives one ("foo (= 1.0)").
	Provides []Relation
}

// Index is the packages of one or more Packages files for one
// architecture: each name's versions, and who provides each virtual name.
type Index struct {
	Arch string
	// DefaultPin is the apt priority of this index's versions when they
	// are merged into another without a pin of their own: DefaultPin, or
	// less for a suite whose Release file says NotAutomatic (0: DefaultPin).
	DefaultPin int
	byName     map[string][]*Package
	providers  map[string][]provider
	// pins is each version's apt pin priority; a version without one has
	// DefaultPin.
	pins map[*Package]int
}

type provider struct {
	pkg *Package
	rel Relation
}

// NewIndex returns an empty index for arch (a Debian architecture name:
// amd64, arm64, ...). Packages of architecture "all" belong to every index.
func NewIndex(arch string) *Index {
	return &Index{Arch: arch, byName: map[string][]*Package{}, providers: map[string][]provider{}, pins: map[*Package]int{}}
}

// Len is the number of package versions in the index.
func (ix *Index) Len() int {
	n := 0
	for _, v := range ix.byName {
		n += len(v)
	}
	return n
}

// Read adds the stanzas of a Packages file. Stanzas of other
// architectures are skipped; a malformed one is an error naming it.
func (ix *Index) Read(r io.Reader) error {
	return ParseParagraphs(r, func(p Paragraph) error {
		pk, err := ix.parse(p)
		if err != nil || pk == nil {
			return err
		}
		ix.Add(pk)
		return nil
	})
}

func (ix *Index) parse(p Paragraph) (*Package, error) {
	pk := &Package{
		Name:         p.Get("Package"),
		Version:      p.Get("Version"),
		Architecture: p.Get("Architecture"),
		Filename:     p.Get("Filename"),
		SHA256:       p.Get("SHA256"),
		Priority:     p.Get("Priority"),
		Essential:    p.Get("Essential") == "yes",
	}
	if pk.Architecture != ix.Arch && pk.Architecture != "all" {
		return nil, nil
	}
	if pk.Name == "" || pk.Version == "" || pk.Filename == "" || pk.SHA256 == "" {
		return nil, fmt.Errorf("Packages stanza %q lacks Package, Version, Filename or SHA256", pk.Name)
	}
	// These fields reach the lock, the build's pin and paths on disk: a
	// hostile or broken index must not smuggle spaces, newlines or ".."
	// into them.
	if !reName.MatchString(pk.Name) || !reVersion.MatchString(pk.Version) || !reName.MatchString(pk.Architecture) {
		return nil, fmt.Errorf("Packages stanza %q %q %q: not a Debian package name, version and architecture", pk.Name, pk.Version, pk.Architecture)
	}
	if !reSHA256.MatchString(pk.SHA256) {
		return nil, fmt.Errorf("package %s %s: SHA256 %q is not 64 lowercase hex digits", pk.Name, pk.Version, pk.SHA256)
	}
	if !validFilename(pk.Filename) {
		return nil, fmt.Errorf("package %s %s: Filename %q is not a clean path below the repository base", pk.Name, pk.Version, pk.Filename)
	}
	var err error
	if pk.Size, err = strconv.ParseInt(p.Get("Size"), 10, 64); err != nil || pk.Size < 0 {
		return nil, fmt.Errorf("package %s %s: bad Size %q", pk.Name, pk.Version, p.Get("Size"))
	}
	if pk.PreDepends, err = ParseDepends(p.Get("Pre-Depends"), ix.Arch); err != nil {
		return nil, fmt.Errorf("package %s %s: Pre-Depends: %w", pk.Name, pk.Version, err)
	}
	if pk.Depends, err = ParseDepends(p.Get("Depends"), ix.Arch); err != nil {
		return nil, fmt.Errorf("package %s %s: Depends: %w", pk.Name, pk.Version, err)
	}
	prov, err := ParseDepends(p.Get("Provides"), ix.Arch)
	if err != nil {
		return nil, fmt.Errorf("package %s %s: Provides: %w", pk.Name, pk.Version, err)
	}
	for _, g := range prov {
		pk.Provides = append(pk.Provides, g...)
	}
	return pk, nil
}

var (
	// Policy §5.6.1 names (lowercase, digits, "+-."); architectures fit too.
	reName = lazyre.New(`^[a-z0-9][a-z0-9+.-]*$`)
	// Policy §5.6.12: [epoch:]upstream[-revision].
	reVersion = lazyre.New(`^([0-9]+:)?[A-Za-z0-9.+~:-]+$`)
	reSHA256  = lazyre.New(`^[0-9a-f]{64}$`)
)

// validFilename reports whether f is a relative slash path with no empty,
// "." or ".." element and no whitespace or control characters.
func validFilename(f string) bool {
	if f == "" || strings.HasPrefix(f, "/") || strings.ContainsFunc(f, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	for _, e := range strings.Split(f, "/") {
		if e == "" || e == "." || e == ".." {
			return false
		}
	}
	return true
}

// Add adds one package version with apt's default priority. A second
// stanza with the same name, version and architecture (the same package in
// two suites) is ignored.
func (ix *Index) Add(pk *Package) { ix.AddPinned(pk, DefaultPin) }

// AddPinned adds one package version with an apt pin priority. The same
// name, version and architecture seen again (the same package in two
// suites) keeps the first stanza and the higher priority, as apt gives a
// version the highest priority of the files it is in.
func (ix *Index) AddPinned(pk *Package, pin int) {
	for _, o := range ix.byName[pk.Name] {
		if o.Version == pk.Version && o.Architecture == pk.Architecture {
			if pin > ix.pin(o) {
				ix.pins[o] = pin
			}
			return
		}
	}
	ix.byName[pk.Name] = append(ix.byName[pk.Name], pk)
	if pin != DefaultPin {
		ix.pins[pk] = pin
	}
	for _, r := range pk.Provides {
		ix.providers[r.Name] = append(ix.providers[r.Name], provider{pkg: pk, rel: r})
	}
}

// Merge adds every version of o with priority pin (0: o's DefaultPin, or
// DefaultPin), as apt combines the indexes of several sources.
func (ix *Index) Merge(o *Index, pin int) {
	if pin == 0 {
		pin = o.DefaultPin
	}
	if pin == 0 {
		pin = DefaultPin
	}
	names := make([]string, 0, len(o.byName))
	for n := range o.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, p := range o.byName[n] {
			ix.AddPinned(p, pin)
		}
	}
}

func (ix *Index) pin(p *Package) int {
	if n, ok := ix.pins[p]; ok {
		return n
	}
	return DefaultPin
}

// Candidate is the version apt would install of name on an empty system:
// among the versions whose pin priority is not negative (apt never
// installs those), the one with the highest priority, and of those the
// highest version (dpkg's comparison). Nil when there is none.
func (ix *Index) Candidate(name string) *Package {
	var best *Package
	for _, p := range ix.byName[name] {
		pp := ix.pin(p)
		if pp < 0 {
			continue
		}
		if best == nil {
			best = p
			continue
		}
		bp := ix.pin(best)
		if pp > bp || (pp == bp && CompareVersions(p.Version, best.Version) > 0) {
			best = p
		}
	}
	return best
}

// Essential lists the candidates of every Essential: yes package, sorted
// by name.
func (ix *Index) Essential() []*Package {
	var out []*Package
	for n := range ix.byName {
		if c := ix.Candidate(n); c != nil && c.Essential {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
