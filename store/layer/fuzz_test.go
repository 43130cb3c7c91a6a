package layer

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// FuzzUnpack feeds arbitrary bytes to Unpack: it must never panic and never
// create anything next to its directory (the attacks in maliciousTars are
// the seeds, so mutations start from the interesting places).
func FuzzUnpack(f *testing.F) {
	testutil.RequireRoot(f)
	for _, data := range maliciousTars(f) {
		f.Add(data)
	}
	f.Add(tarOf(f, dirh("a/"), reg("a/.wh..wh..opq"), reg("a/b"), link("c", "a/b"), sym("d", "/x")))
	src := f.TempDir()
	makeTree(f, src, fixture, seq(len(fixture)), 0o022)
	f.Add(tarBytes(f, src))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "root")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Unpack(bytes.NewReader(data), dst); err == nil {
			// Whatever was accepted must have a canonical tar.
			var b bytes.Buffer
			if err := WriteTar(&b, dst); err != nil {
				t.Fatalf("accepted tar gives an unwritable layer: %v", err)
			}
		}
		checkNothingOutside(t, parent)
	})
}
