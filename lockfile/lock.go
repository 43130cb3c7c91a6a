package lockfile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/kiln-build/kiln/internal/platform"
	"github.com/zclconf/go-cty/cty"

	"github.com/kiln-build/kiln/internal/hcltokens"
	"github.com/kiln-build/kiln/internal/lazyre"
)

// Version is the format version this package reads and writes.
const Version = 1

// FileName is the lock's name next to build.hcl.
const FileName = "build.lock.hcl"

// Header is the comment every lock starts with. It names the command so a
// reviewer who has never seen kiln knows where the file comes from.
const Header = "# This file is maintained by kiln lock. Do not edit it by hand.\n" +
	"# Run `kiln lock` to add missing inputs, `kiln lock --update INPUT` to re-resolve one.\n"

// Lock is a parsed build.lock.hcl.
type Lock struct {
	Version int
	// Entries by address ("source.image.base", "stage.build.run[0]").
	Entries map[string]*Entry
}

// New returns an empty lock of the current version.
func New() *Lock { return &Lock{Version: Version, Entries: map[string]*Entry{}} }

// Entry is one block: what was asked for (the request fields) and what it
// resolved to. Which fields apply depends on Type: its kind's attrs (see
// kind.go) say so, and fix their order in the file.
type Entry struct {
	Address string
	// Type is one of the kinds registered in kind.go.
	Type string

	// Request: the image/oci-layout/git ref, the http/git URL, the
	// oci-layout path (relative to build.hcl), the run step's digest.
	Ref  string
	URL  string
	Path string
	Step string

	// Digest is the image index or manifest digest (image, oci-layout).
	Digest string
	// Platforms maps os/arch[/variant] to the platform's manifest digest.
	Platforms map[string]string
	// SHA256 (hex) and Size of an http download.
	SHA256 string
	Size   int64
	// Commit, Tree (hex object ids) and CommitTime (Unix seconds) of git.
	Commit     string
	Tree       string
	CommitTime int64
	// OutputHash is a fixed-output run step's output, "sha256:<hex>".
	OutputHash string

	// deb: the request (Suite, Architecture, the Packages named in
	// build.hcl, in their order) and the resolved closure, sorted by name.
	// The repository's host is never recorded: it comes from the machine.
	Suite        string
	Architecture string
	Packages     []string
	Debs         []Deb
	// Others are the same deb source locked for its other architectures,
	// sorted by Architecture, each after this one: a source whose
	// architecture follows target_arch is pinned once per architecture
	// its targets are built for. Written as further blocks of the same
	// address; a lock of one architecture has none and reads as before.
	Others []*Entry
}

// ForArch is the entry of e's address pinned for the Debian architecture
// arch, without its Others, or nil when e has none for arch.
func (e *Entry) ForArch(arch string) *Entry {
	for _, o := range append([]*Entry{e}, e.Others...) {
		if o.Architecture == arch {
			c := *o
			c.Others = nil
			return &c
		}
	}
	return nil
}

// Arches are the architectures e pins, its own first.
func (e *Entry) Arches() []string {
	out := []string{e.Architecture}
	for _, o := range e.Others {
		out = append(out, o.Architecture)
	}
	return out
}

// Clone returns a deep copy of e.
func (e *Entry) Clone() *Entry {
	c := *e
	c.Packages = append([]string(nil), e.Packages...)
	c.Debs = append([]Deb(nil), e.Debs...)
	c.Others = nil
	for _, o := range e.Others {
		c.Others = append(c.Others, o.Clone())
	}
	if e.Platforms != nil {
		c.Platforms = make(map[string]string, len(e.Platforms))
		for k, v := range e.Platforms {
			c.Platforms[k] = v
		}
	}
	return &c
}

// Equal reports whether two entries record the same thing.
func (e *Entry) Equal(o *Entry) bool {
	if e == nil || o == nil {
		return e == o
	}
	if e.Address != o.Address || e.Type != o.Type || e.Ref != o.Ref || e.URL != o.URL ||
		e.Path != o.Path || e.Step != o.Step || e.Digest != o.Digest || e.SHA256 != o.SHA256 ||
		e.Size != o.Size || e.Commit != o.Commit || e.Tree != o.Tree || e.CommitTime != o.CommitTime ||
		e.OutputHash != o.OutputHash || len(e.Platforms) != len(o.Platforms) ||
		e.Suite != o.Suite || e.Architecture != o.Architecture ||
		strings.Join(e.Packages, "\n") != strings.Join(o.Packages, "\n") || len(e.Debs) != len(o.Debs) ||
		len(e.Others) != len(o.Others) {
		return false
	}
	for i := range e.Others {
		if !e.Others[i].Equal(o.Others[i]) {
			return false
		}
	}
	for i := range e.Debs {
		if e.Debs[i] != o.Debs[i] {
			return false
		}
	}
	for k, v := range e.Platforms {
		if o.Platforms[k] != v {
			return false
		}
	}
	return true
}

type attrKind int

const (
	kindString attrKind = iota
	kindInt
	kindMap
	kindList // Entry.Packages
)

// attrSpec is one attribute of a block type: its name, kind, whether it may
// be absent, how its value is checked, and where it lives in Entry.
type attrSpec struct {
	name     string
	kind     attrKind
	optional bool
	check    func(string) error
	str      func(*Entry) *string
	num      func(*Entry) *int64
}

var (
	reDigest = lazyre.New(`^sha256:[0-9a-f]{64}$`)
	reHex256 = lazyre.New(`^[0-9a-f]{64}$`)
	reObject = lazyre.New(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

func checkDigest(s string) error {
	if !reDigest.MatchString(s) {
		return fmt.Errorf("%q is not a digest (sha256: followed by 64 lowercase hex digits)", s)
	}
	return nil
}

func checkHex256(s string) error {
	if !reHex256.MatchString(s) {
		return fmt.Errorf("%q is not a sha256 (64 lowercase hex digits)", s)
	}
	return nil
}

func checkObject(s string) error {
	if !reObject.MatchString(s) {
		return fmt.Errorf("%q is not a git object id (40 or 64 lowercase hex digits)", s)
	}
	return nil
}

func checkNonEmpty(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

func checkRelPath(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	if strings.HasPrefix(s, "/") {
		return fmt.Errorf("%q is absolute; lock paths are relative to build.hcl's folder", s)
	}
	return nil
}

// checkPlatform holds lock keys to the rules build.hcl's platforms follow,
// so that every key resolve writes is one the lock reads back.
func checkPlatform(s string) error {
	_, err := platform.Parse(s)
	return err
}

func fRef(e *Entry) *string        { return &e.Ref }
func fURL(e *Entry) *string        { return &e.URL }
func fPath(e *Entry) *string       { return &e.Path }
func fStep(e *Entry) *string       { return &e.Step }
func fDigest(e *Entry) *string     { return &e.Digest }
func fSHA256(e *Entry) *string     { return &e.SHA256 }
func fCommit(e *Entry) *string     { return &e.Commit }
func fTree(e *Entry) *string       { return &e.Tree }
func fOutputHash(e *Entry) *string { return &e.OutputHash }
func fSize(e *Entry) *int64        { return &e.Size }
func fSuite(e *Entry) *string      { return &e.Suite }
func fArch(e *Entry) *string       { return &e.Architecture }
func fCommitTime(e *Entry) *int64  { return &e.CommitTime }

// SourceAddress is the address of source "TYPE" "NAME".
func SourceAddress(typ, name string) string { return "source." + typ + "." + name }

// RunAddress is the address of a stage's fixed-output run step: n counts
// the stage's run steps from 0 in file order (other step kinds are not
// counted, so adding a mkdir does not move the pin).
func RunAddress(stage string, n int) string {
	return "stage." + stage + ".run[" + strconv.Itoa(n) + "]"
}

// blockOf splits an address into the block type and labels it is written
// as: source.image.base -> source "image" "base", stage.build.run[0] ->
// run "stage.build" "0".
func blockOf(addr string) (typ string, labels []string, err error) {
	if rest, ok := strings.CutPrefix(addr, "source."); ok {
		t, n, ok := strings.Cut(rest, ".")
		if ok && t != "" && n != "" && !strings.Contains(n, ".") {
			return "source", []string{t, n}, nil
		}
	}
	if rest, ok := strings.CutPrefix(addr, "stage."); ok {
		s, r, ok := strings.Cut(rest, ".run[")
		if ok && s != "" && strings.HasSuffix(r, "]") {
			n := strings.TrimSuffix(r, "]")
			if i, err := strconv.Atoi(n); err == nil && i >= 0 && strconv.Itoa(i) == n {
				return "run", []string{"stage." + s, n}, nil
			}
		}
	}
	return "", nil, fmt.Errorf("%q is not a lockable address (source.TYPE.NAME or stage.NAME.run[N])", addr)
}

// addressOf is blockOf's inverse.
func addressOf(typ string, labels []string) (addr, entryType string, err error) {
	switch typ {
	case "source":
		addr = SourceAddress(labels[0], labels[1])
		entryType = labels[0]
	case "run":
		addr = labels[0] + ".run[" + labels[1] + "]"
		entryType = TypeRun
	}
	if t, l, err := blockOf(addr); err != nil || t != typ || l[0] != labels[0] || l[1] != labels[1] {
		return "", "", fmt.Errorf("%s %q %q is not a lockable address (source \"TYPE\" \"NAME\" or run \"stage.NAME\" \"N\")", typ, labels[0], labels[1])
	}
	return addr, entryType, nil
}

// Addresses returns the lock's addresses, sorted.
func (l *Lock) Addresses() []string {
	out := make([]string, 0, len(l.Entries))
	for a := range l.Entries {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Bytes returns the lock in normal form: the header, the version, then one
// block per entry sorted by address, attributes in schema order, formatted
// by hclwrite. Equal locks give equal bytes.
func (l *Lock) Bytes() []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{Bytes: []byte(Header)}, {Bytes: []byte("\n")}})
	v := l.Version
	if v == 0 {
		v = Version
	}
	body.SetAttributeValue("version", cty.NumberIntVal(int64(v)))
	for _, addr := range l.Addresses() {
		e := l.Entries[addr]
		typ, labels, err := blockOf(addr)
		if err != nil {
			// Entries come from Parse or resolvers, which only make valid
			// addresses; writing a broken one would make an unreadable file.
			panic("lockfile: " + err.Error())
		}
		for _, one := range append([]*Entry{e}, e.Others...) {
			body.AppendNewline()
			writeEntry(body.AppendNewBlock(typ, labels).Body(), one)
		}
	}
	return hclwrite.Format(f.Bytes())
}

// writeEntry writes one entry's attributes and nested blocks to b.
func writeEntry(b *hclwrite.Body, e *Entry) {
	k := kinds[e.Type]
	for _, s := range attrsOf(e.Type) {
		switch s.kind {
		case kindString:
			val := *s.str(e)
			if s.optional && val == "" {
				continue
			}
			b.SetAttributeValue(s.name, cty.StringVal(val))
		case kindInt:
			b.SetAttributeValue(s.name, cty.NumberIntVal(*s.num(e)))
		case kindMap:
			if s.optional && len(e.Platforms) == 0 {
				continue
			}
			b.SetAttributeRaw(s.name, hcltokens.Map(e.Platforms))
		case kindList:
			vals := make([]cty.Value, len(e.Packages))
			for i, p := range e.Packages {
				vals[i] = cty.StringVal(p)
			}
			if len(vals) == 0 {
				b.SetAttributeValue(s.name, cty.ListValEmpty(cty.String))
			} else {
				b.SetAttributeValue(s.name, cty.ListVal(vals))
			}
		}
	}
	if bk, ok := k.(blockKind); ok {
		bk.writeBlocks(b, e)
	}
}
