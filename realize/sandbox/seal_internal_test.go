package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/rootless"
)

func TestSealCopyWarning(t *testing.T) {
	if rootless.InUserNS() {
		t.Skip("no overlay seal in a user namespace: never warned")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	exe := filepath.Join(bin, "kiln")
	for _, d := range []string{bin, filepath.Join(bin, "store", "sandbox"), filepath.Join(dir, "store", "sandbox")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(exe, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	// The store in the binary's directory: overlayfs refuses the seal.
	if msg := sealCopyWarning(exe, filepath.Join(bin, "store", "sandbox")); !strings.Contains(msg, "every step copies") {
		t.Errorf("store under the binary's directory: got %q, want the copy warning", msg)
	}
	// Side by side: sealed without a copy.
	if msg := sealCopyWarning(exe, filepath.Join(dir, "store", "sandbox")); msg != "" {
		t.Errorf("store beside the binary's directory: got %q, want no warning", msg)
	}
	// A sibling whose name starts with the directory's is not inside it.
	if within(filepath.Join(dir, "binary"), bin) {
		t.Errorf("%s/binary taken for a path inside %s", dir, bin)
	}
}
