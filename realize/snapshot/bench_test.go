package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// BenchmarkCopyStep is the copy snapshotter's work for one step on a
// busybox root (about 400 entries, 2 MB): assemble, a one-file change,
// diff, remove. bench/realize.sh -copy measures it end to end against
// overlayfs.
func BenchmarkCopyStep(b *testing.B) {
	dir := b.TempDir()
	lower := filepath.Join(dir, "lower")
	if err := testutil.WriteBusyboxRootfs(lower, testutil.BusyboxPath); err != nil {
		b.Skip(err)
	}
	for i := 0; b.Loop(); i++ {
		root, upper := filepath.Join(dir, fmt.Sprint("r", i)), filepath.Join(dir, fmt.Sprint("u", i))
		t, err := Assemble(root, []string{lower})
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "log"), []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Mkdir(upper, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := t.Diff(upper); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(root)
		os.RemoveAll(upper)
	}
}
