package fsync

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTree(t *testing.T) {
	small := t.TempDir()
	if err := os.MkdirAll(filepath.Join(small, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(small, "a", "b", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Tree(small); err != nil {
		t.Fatalf("small tree: %v", err)
	}
	// Past smallTree entries, and with a symlink: syncfs.
	big := t.TempDir()
	for i := range smallTree + 1 {
		if err := os.WriteFile(filepath.Join(big, "f"+string(rune('A'+i%26))+string(rune('a'+i/26))), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("x", filepath.Join(big, "l")); err != nil {
		t.Fatal(err)
	}
	if err := Tree(big); err != nil {
		t.Fatalf("big tree: %v", err)
	}
	if err := Tree(filepath.Join(small, "missing")); err == nil {
		t.Fatal("Tree of a missing directory succeeded")
	}
}
