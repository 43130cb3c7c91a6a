package lang

import (
	"unsafe"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// nodeArena holds the syntax tree nodes the fast parser builds, in blocks
// of many nodes each, and can hand the same memory out again.
//
// A stage chunk's tree lives only until its stage is decoded: nothing in
// the decoded Stage points into it. Parsing 10,000 stages into fresh
// nodes allocated about half of a plan's heap, and the fresh pages,
// their faults and the collections they brought were a third of its CPU
// time. decodeStageChunks gives each worker one arena and resets it after
// a chunk decoded without diagnostics (a diagnostic may hold one of the
// tree's expressions), so the nodes of the next chunk reuse that memory.
//
// An arena that is never reset is an allocator with fewer, larger
// allocations: trees that are kept (the chunks other than stages) use one
// that way.
type nodeArena struct {
	bodies    slab[hclsyntax.Body]
	attrs     slab[hclsyntax.Attribute]
	blocks    slab[hclsyntax.Block]
	literals  slab[hclsyntax.LiteralValueExpr]
	templates slab[hclsyntax.TemplateExpr]
	wraps     slab[hclsyntax.TemplateWrapExpr]
	travs     slab[hclsyntax.ScopeTraversalExpr]
	steps     slab[hcl.Traverser]
	roots     slab[hcl.TraverseRoot]
	attrSteps slab[hcl.TraverseAttr]
	tuples    slab[hclsyntax.TupleConsExpr]
	objects   slab[hclsyntax.ObjectConsExpr]
	keys      slab[hclsyntax.ObjectConsKeyExpr]
	items     slab[hclsyntax.ObjectConsItem]
	exprs     slab[hclsyntax.Expression]
	blockPtrs slab[*hclsyntax.Block]
	strs      slab[string]
	ranges    slab[hcl.Range]
	attrMaps  []hclsyntax.Attributes
	usedMaps  int
	// vals caches literal string values by their text (stringVal), names
	// the names and labels the parser read (intern); both are kept across
	// resets.
	vals  map[string]cty.Value
	names map[string]string
}

// reset makes every node handed out so far free for reuse. The caller
// must hold no pointer into the trees built since the last reset.
func (a *nodeArena) reset() {
	a.bodies.reset()
	a.attrs.reset()
	a.blocks.reset()
	a.literals.reset()
	a.templates.reset()
	a.wraps.reset()
	a.travs.reset()
	a.steps.reset()
	a.roots.reset()
	a.attrSteps.reset()
	a.tuples.reset()
	a.objects.reset()
	a.keys.reset()
	a.items.reset()
	a.exprs.reset()
	a.blockPtrs.reset()
	a.strs.reset()
	a.ranges.reset()
	a.usedMaps = 0
}

// attrMap returns an empty attribute map, reusing one from before the
// last reset when there is one.
func (a *nodeArena) attrMap() hclsyntax.Attributes {
	if a.usedMaps < len(a.attrMaps) {
		m := a.attrMaps[a.usedMaps]
		a.usedMaps++
		clear(m)
		return m
	}
	m := hclsyntax.Attributes{}
	a.attrMaps = append(a.attrMaps, m)
	a.usedMaps++
	return m
}

// slabBlock is how many items one block of a slab holds: large enough
// that a chunk's nodes of one type take one or two allocations, small
// enough that a kept tree does not pin much unused memory.
const slabBlock = 64

// slab hands out items of one type from blocks of slabBlock items.
type slab[T any] struct {
	blocks [][]T
	b, i   int // the block in use and its next free item
}

// put stores v in the next free item and returns its address.
func (s *slab[T]) put(v T) *T {
	if s.b == len(s.blocks) {
		s.blocks = append(s.blocks, make([]T, slabBlock))
	}
	p := &s.blocks[s.b][s.i]
	*p = v
	if s.i++; s.i == slabBlock {
		s.b, s.i = s.b+1, 0
	}
	return p
}

// copyOf returns a copy of items in the slab, with no spare capacity, so
// that appending to it never writes into the next slice handed out.
// Slices longer than a block get their own array.
func (s *slab[T]) copyOf(items []T) []T {
	n := len(items)
	if n == 0 {
		return nil
	}
	if n > slabBlock {
		return append([]T(nil), items...)
	}
	if s.b < len(s.blocks) && s.i+n > slabBlock {
		s.b, s.i = s.b+1, 0
	}
	if s.b == len(s.blocks) {
		s.blocks = append(s.blocks, make([]T, slabBlock))
	}
	out := s.blocks[s.b][s.i : s.i+n : s.i+n]
	copy(out, items)
	if s.i += n; s.i == slabBlock {
		s.b, s.i = s.b+1, 0
	}
	return out
}

func (s *slab[T]) reset() { s.b, s.i = 0, 0 }

// root and attrStep return a traversal step as the hcl.Traverser a
// traversal holds, its value kept in the arena. Converting a struct to an
// interface copies it to a fresh heap object the interface points at:
// one allocation per step, the most numerous of the parser's (a
// reference is two or three steps). Here the interface points at the
// arena's copy instead, which lives exactly as long as the traversal
// slice holding the interface (steps, in the same arena), so the reset
// rule is unchanged: nothing may hold a tree's nodes past a reset.
func (a *nodeArena) root(t hcl.TraverseRoot) hcl.Traverser {
	return inArena[hcl.Traverser](rootTab, a.roots.put(t))
}

func (a *nodeArena) attrStep(t hcl.TraverseAttr) hcl.Traverser {
	return inArena[hcl.Traverser](attrTab, a.attrSteps.put(t))
}

// inArena makes the interface value of type I that holds *p, for a type
// T stored indirectly (larger than a pointer): its first word the
// interface table of (I, T), taken from a conversion the compiler made,
// its second p, where the runtime would have put a pointer to its copy.
func inArena[I any, T any](tab unsafe.Pointer, p *T) I {
	var i I
	w := (*[2]unsafe.Pointer)(unsafe.Pointer(&i))
	w[0], w[1] = tab, unsafe.Pointer(p)
	return i
}

// ifaceTab is the first word of an interface value.
func ifaceTab[I any](i I) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&i))[0]
}

var (
	rootTab = ifaceTab[hcl.Traverser](hcl.TraverseRoot{})
	attrTab = ifaceTab[hcl.Traverser](hcl.TraverseAttr{})
)
