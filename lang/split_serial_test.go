package lang

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/internal/gen"
)

// TestSplitChunksMatchesLineScan checks splitChunks against the line by
// line scan it replaced, on the large generated file and on random text
// made of keywords, their prefixes, separators and newlines.
func TestSplitChunksMatchesLineScan(t *testing.T) {
	inputs := [][]byte{nil, []byte("\n"), []byte("stage \"a\" {}"), []byte("x\nstage{"), []byte("x\nstage"), []byte("x\nstage\n{"), gen.Large(50, 10)}
	parts := []string{"kiln", "variable", "locals", "function", "source", "stage", "image", "artifact", "group",
		"s", "st", "so", "sta", "kil", "grou", " ", "\t", "\"", "{", "}", "\n", "\n", "\n", "x", "=", "\r\n"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		var b bytes.Buffer
		for range rng.IntN(30) {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		inputs = append(inputs, b.Bytes())
	}
	for _, src := range inputs {
		if got, want := splitChunks(src), refSplitChunks(src); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, want %+v", src, got, want)
		}
	}
}

// refSplitChunks is splitChunks as it was before round 6 of issue 20.
func refSplitChunks(src []byte) []chunk {
	keywords := [][]byte{
		[]byte("kiln"), []byte("variable"), []byte("locals"), []byte("function"), []byte("source"),
		[]byte("stage"), []byte("image"), []byte("artifact"), []byte("group"),
	}
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
			for _, kw := range keywords {
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
	cs := make([]chunk, len(starts))
	line, counted := 1, 0
	for i, start := range starts {
		end := len(src)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		line += bytes.Count(src[counted:start], []byte{'\n'})
		counted = start
		cs[i] = chunk{pos: hcl.Pos{Line: line, Column: 1, Byte: start}, end: end}
	}
	return cs
}
