package lang

import (
	"bytes"
	"runtime"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// topLevelKeywords start the blocks a build file is made of.
var topLevelKeywords = [][]byte{
	[]byte("kiln"), []byte("variable"), []byte("locals"), []byte("function"), []byte("source"),
	[]byte("stage"), []byte("image"), []byte("artifact"), []byte("group"),
}

// parseNative parses native-syntax src in chunks, one per top-level block.
//
// hclsyntax lexes a whole file into one token slice before parsing; for a
// generated build file of 10,000 stages that slice alone is hundreds of
// megabytes, mostly garbage from append growth. Chunks that start at a
// top-level keyword in column 1 keep each token slice small. A split point
// inside a heredoc, comment or block always leaves some chunk unbalanced,
// so any chunk error falls back to one whole-file parse, whose diagnostics
// are the ones the user should see.
func parseNative(src []byte, name string) (*hcl.File, hcl.Diagnostics) {
	starts := splitPoints(src)
	if len(starts) > 1 {
		// Chunks are independent, so they are parsed on every core: hcl's
		// lexer dominates the load time of large build files.
		type chunk struct {
			pos  hcl.Pos
			end  int
			file *hcl.File
			bad  bool
		}
		chunks := make([]chunk, len(starts))
		line, counted := 1, 0
		for i, start := range starts {
			end := len(src)
			if i+1 < len(starts) {
				end = starts[i+1]
			}
			line += bytes.Count(src[counted:start], []byte{'\n'})
			counted = start
			chunks[i] = chunk{pos: hcl.Pos{Line: line, Column: 1, Byte: start}, end: end}
		}
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(chunks); i += workers {
					c := &chunks[i]
					f, diags := hclsyntax.ParseConfig(src[c.pos.Byte:c.end], name, c.pos)
					c.file, c.bad = f, diags.HasErrors()
				}
			}()
		}
		wg.Wait()
		bodies := make([]hcl.Body, 0, len(starts))
		navs := make([]chunkNav, 0, len(starts))
		ok := true
		for _, c := range chunks {
			if c.bad {
				ok = false
				break
			}
			bodies = append(bodies, c.file.Body)
			navs = append(navs, chunkNav{start: c.pos.Byte, nav: c.file.Nav})
		}
		if ok {
			return &hcl.File{Body: hcl.MergeBodies(bodies), Bytes: src, Nav: chunkedNav(navs)}, nil
		}
	}
	return hclsyntax.ParseConfig(src, name, hcl.InitialPos)
}

// splitPoints lists the byte offsets of lines that start, in column 1,
// with a top-level keyword followed by a space, quote or brace. Offset 0
// is always first.
func splitPoints(src []byte) []int {
	starts := []int{0}
	for off := 0; off < len(src); {
		nl := bytes.IndexByte(src[off:], '\n')
		line := src[off:]
		next := len(src)
		if nl >= 0 {
			line = src[off : off+nl]
			next = off + nl + 1
		}
		if off > 0 {
			for _, kw := range topLevelKeywords {
				if len(line) > len(kw) && bytes.HasPrefix(line, kw) {
					if c := line[len(kw)]; c == ' ' || c == '"' || c == '{' {
						starts = append(starts, off)
					}
					break
				}
			}
		}
		off = next
	}
	return starts
}

type chunkNav struct {
	start int
	nav   any
}

// chunkedNav lets hcl's diagnostic writer find the block around an offset
// ("in stage "a"") in whichever chunk holds it.
type chunkedNav []chunkNav

func (n chunkedNav) find(offset int) any {
	i := sort.Search(len(n), func(i int) bool { return n[i].start > offset }) - 1
	if i < 0 {
		return nil
	}
	return n[i].nav
}

// ContextString implements the writer's contextStringer.
func (n chunkedNav) ContextString(offset int) string {
	if cs, ok := n.find(offset).(interface{ ContextString(int) string }); ok {
		return cs.ContextString(offset)
	}
	return ""
}

// ContextDefRange implements hcl's contextDefRanger.
func (n chunkedNav) ContextDefRange(offset int) hcl.Range {
	if cs, ok := n.find(offset).(interface{ ContextDefRange(int) hcl.Range }); ok {
		return cs.ContextDefRange(offset)
	}
	return hcl.Range{}
}
