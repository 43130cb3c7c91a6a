package lang

import "github.com/hashicorp/hcl/v2"

// sourceKind is one type of source block: the attributes its body takes
// and how they become a Source. Each kind lives in its own source_TYPE.go;
// sourceKinds below is the one place they are registered.
type sourceKind interface {
	// name is the block's type label: source "NAME" "…".
	name() string
	// schema is the body's attributes.
	schema() *hcl.BodySchema
	// decode reads a, the body of block b, into s and checks it, reporting
	// through e. s has its type, name, range and max_size already.
	decode(e *evaluator, b *hcl.Block, a attrs, s *Source)
}

// sourceKinds are the source kinds kiln knows how to pin and fetch, in the
// order an unknown type's error lists them. A new kind adds its file and
// its line here, then its lowering in compiler, its lock entry in lockfile,
// its resolver in lockfile/resolve and its fetcher in realize/source.
var sourceKinds = []sourceKind{
	imageSource{},
	httpSource{},
	gitSource{},
	localSource{},
	ociLayoutSource{},
	debSource{},
}

// sourceKindOf finds a kind by its type label; sourceTypes are the
// labels in order; sourceSchemas the body schemas by label (the fast
// parser interns their attribute names).
var (
	sourceKindOf  = byName(sourceKinds, func(k sourceKind) sourceKind { return k })
	sourceSchemas = byName(sourceKinds, sourceKind.schema)
	sourceTypes   = kindNames(sourceKinds)
)

func byName[T any](ks []sourceKind, f func(sourceKind) T) map[string]T {
	m := make(map[string]T, len(ks))
	for _, k := range ks {
		m[k.name()] = f(k)
	}
	return m
}

func kindNames(ks []sourceKind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.name()
	}
	return out
}

func (e *evaluator) decodeSource(b *hcl.Block) *Source {
	s := &Source{Type: b.Labels[0], Name: b.Labels[1], DeclRange: b.DefRange}
	k := sourceKindOf[s.Type]
	_, a := e.content(b.Body, k.schema())
	// Every type that unpacks data from outside has it; local copies the
	// build's own folder, which cannot grow as it is copied.
	s.MaxSize = a.size("max_size")
	k.decode(e, b, a, s)
	return s
}

// SourceTypes returns the source types a build file may declare, in the
// order errors list them. The other layers' tests check against it that
// every type has its lowering, lock entry, resolver and fetcher.
func SourceTypes() []string { return append([]string(nil), sourceTypes...) }
