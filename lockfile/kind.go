package lockfile

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/kiln-build/kiln/internal/platform"
)

// kind is what the lock knows of one entry type: which attributes its
// block has, when an entry still answers build.hcl's request, the pin the
// compiler records, and how `kiln lock` reports it. Each kind lives in its
// own kind_TYPE.go; kinds below is the one place they are registered.
type kind interface {
	// attrs are the block's attributes in the order they are written:
	// request first, then what it resolved to. Entry holds their values.
	attrs() []attrSpec
	// matches reports whether e, of this type, still answers in.
	matches(in *Input, e *Entry) bool
	// pin is what the compiler records of a matching e on platform (""
	// for the whole source): see Lock.Pin.
	pin(e *Entry, platform string) (string, bool)
	// request is what in asks for, entryRequest what e was locked for,
	// both as `kiln lock --check` words them ("url https://…").
	request(in *Input) string
	entryRequest(e *Entry) string
	// summary is e in a few characters: a tag or ref and a short pin.
	summary(e *Entry) string
}

// platformKind is a kind whose sources lock a set of platforms: Inputs
// gives them the platforms to lock.
type platformKind interface {
	kind
	locksPlatforms()
}

// blockKind is a kind whose entries hold nested blocks after their
// attributes (deb's package blocks).
type blockKind interface {
	kind
	// readBlocks reads b's nested blocks into e, reporting through p.
	readBlocks(p *parser, b *hclsyntax.Block, e *Entry)
	// writeBlocks appends e's nested blocks to body, in normal form.
	writeBlocks(body *hclwrite.Body, e *Entry)
	// changes names what moved in the nested blocks from a to b.
	changes(a, b *Entry) []string
}

// kinds are the entry types by name. A new source kind adds its file and
// its line here, and its fields to Entry.
var kinds = map[string]kind{
	TypeImage:     imageKind{},
	TypeHTTP:      httpKind{},
	TypeGit:       gitKind{},
	TypeOCILayout: ociLayoutKind{},
	TypeDeb:       debKind{},
	TypeRun:       runKind{},
}

// Locked reports whether sources of type typ are pinned in the lock. local
// sources are not: the compiler hashes their contents at build time.
func Locked(typ string) bool {
	_, ok := kinds[typ]
	return ok && typ != TypeRun
}

// platformsMatch reports whether e locks exactly the platforms want (nil:
// any). An entry that recorded no platform matches when single is set: a
// single-manifest oci-layout serves whichever platform is asked.
func platformsMatch(e *Entry, want []string, single bool) bool {
	if want == nil {
		return true
	}
	if len(e.Platforms) == 0 {
		return single
	}
	if len(e.Platforms) != len(want) {
		return false
	}
	for _, p := range want {
		if _, ok := e.Platforms[p]; !ok {
			return false
		}
	}
	return true
}

// platformDigest is the pin of an image-like entry: platform's manifest
// digest, or the index digest for "". An entry without platforms pins its
// one manifest when single is set.
func platformDigest(e *Entry, want string, single bool) (string, bool) {
	if want == "" {
		return e.Digest, true
	}
	if len(e.Platforms) == 0 {
		return e.Digest, single
	}
	return platformPin(e.Platforms, want)
}

// platformPin finds the manifest the lock resolved for want. The lock's
// keys are the source's platforms as build.hcl spells them, and a stage may
// spell one of them another way ("linux/arm64" for "linux/arm64/v8"): the
// same platform gets the same manifest, as resolve chose it.
func platformPin(ps map[string]string, want string) (string, bool) {
	if d, ok := ps[want]; ok {
		return d, true
	}
	w, err := platform.Parse(want)
	if err != nil {
		return "", false
	}
	keys := make([]string, 0, len(ps))
	for k := range ps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if h, err := platform.Parse(k); err == nil && platform.Match(w, h) {
			return ps[k], true
		}
	}
	return "", false
}

// platformList is " [a, b]" for a request's platforms, "" for none.
func platformList(ps []string) string {
	if len(ps) == 0 {
		return ""
	}
	return " [" + strings.Join(ps, ", ") + "]"
}

// attrsOf is typ's attributes, none for a type this kiln does not know.
func attrsOf(typ string) []attrSpec {
	if k := kinds[typ]; k != nil {
		return k.attrs()
	}
	return nil
}
