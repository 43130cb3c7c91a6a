package export

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A destination that appears while the output is written (another export
// to the same place) is never silently replaced without force.
func TestAtomicallyNeverReplacesUnforced(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "out.tar")
	err := atomically(dest, false, func(tmp string) error {
		if err := os.WriteFile(dest, []byte("theirs"), 0o644); err != nil {
			return err
		}
		return os.WriteFile(tmp, []byte("ours"), 0o644)
	})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("got %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "theirs" {
		t.Errorf("dest holds %q, want the other writer's content", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporaries left behind: %v", ents)
	}
}

// Forced onto a destination that is removed meanwhile, the output still
// lands.
func TestAtomicallyForcedDestVanishes(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "out")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	err := atomically(dest, true, func(tmp string) error {
		if err := os.Remove(dest); err != nil {
			return err
		}
		return os.WriteFile(tmp, []byte("new"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "new" {
		t.Errorf("dest holds %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporaries left behind: %v", ents)
	}
}
