package lang

import (
	"testing"
	"unsafe"

	"github.com/hashicorp/hcl/v2"

	"github.com/google/go-cmp/cmp"

	"github.com/kiln-build/kiln/internal/gen"
)

// TestArenaReuse parses every chunk of a generated file into one arena,
// reset between chunks, and checks each tree against the same chunk
// parsed into a fresh arena: nothing of an earlier tree may show through.
func TestArenaReuse(t *testing.T) {
	src := gen.Large(200, 30)
	var reused nodeArena
	for _, c := range splitChunks(src) {
		reused.reset()
		got, ok := fastParseIn(&reused, c.bytes(src), "build.hcl", c.pos)
		if !ok {
			t.Fatalf("fast path refused chunk at line %d", c.pos.Line)
		}
		want, _ := fastParse(c.bytes(src), "build.hcl", c.pos)
		if d := cmp.Diff(want, got, cmpOpts...); d != "" {
			t.Fatalf("chunk at line %d parsed into a reused arena differs (-fresh +reused):\n%s", c.pos.Line, d)
		}
	}
}

// TestSlabCopyOfHasNoSpareCapacity checks that appending to a slice the
// slab handed out never writes into the next one.
func TestSlabCopyOfHasNoSpareCapacity(t *testing.T) {
	var s slab[int]
	a := s.copyOf([]int{1, 2})
	b := s.copyOf([]int{3})
	a = append(a, 9)
	if b[0] != 3 || cap(b) != 1 {
		t.Fatalf("append to a wrote into b: a %v, b %v (cap %d)", a, b, cap(b))
	}
	if s.copyOf(nil) != nil {
		t.Fatal("an empty copy must be nil, as the parser's slices were")
	}
	long := make([]int, slabBlock+1)
	if got := s.copyOf(long); len(got) != slabBlock+1 {
		t.Fatalf("a slice longer than a block: got %d items", len(got))
	}
}

// TestStepsInArena checks that a traversal step kept in the arena is the
// interface value a conversion makes: same dynamic type, equal value,
// asserted back to the same struct; and that the types are stored
// indirectly, which inArena's layout assumes.
func TestStepsInArena(t *testing.T) {
	if unsafe.Sizeof(hcl.TraverseRoot{}) <= unsafe.Sizeof(uintptr(0)) || unsafe.Sizeof(hcl.TraverseAttr{}) <= unsafe.Sizeof(uintptr(0)) {
		t.Fatal("traversal steps are pointer-sized: an interface would hold them directly")
	}
	var a nodeArena
	rng := hcl.Range{Filename: "build.hcl", Start: hcl.Pos{Line: 2, Column: 3, Byte: 4}, End: hcl.Pos{Line: 2, Column: 6, Byte: 7}}
	root := hcl.TraverseRoot{Name: "var", SrcRange: rng}
	attr := hcl.TraverseAttr{Name: "version", SrcRange: rng}
	for range 3 * slabBlock {
		r, s := a.root(root), a.attrStep(attr)
		if r != hcl.Traverser(root) || s != hcl.Traverser(attr) {
			t.Fatalf("got %#v, %#v; want %#v, %#v", r, s, root, attr)
		}
		if got, ok := r.(hcl.TraverseRoot); !ok || got != root {
			t.Fatalf("root asserts to %#v, %v", got, ok)
		}
		if got, ok := s.(hcl.TraverseAttr); !ok || got != attr {
			t.Fatalf("attr asserts to %#v, %v", got, ok)
		}
		if s.SourceRange() != rng {
			t.Fatalf("method call through the interface: %v", s.SourceRange())
		}
		rootStep := hcl.Traversal{r, s}
		if rootStep.RootName() != "var" || rootStep.IsRelative() {
			t.Fatal("hcl does not read the traversal")
		}
	}
}
