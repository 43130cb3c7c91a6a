package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A destination that appears while the output is written (another export
// to the same place) is never silently replaced unless replacing.
func TestPublishNeverReplacesUnforced(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "out.tar")
	err := Publish(dest, false, false, func(tmp string) error {
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

// Replacing a destination that is removed meanwhile still puts the output
// in place.
func TestPublishReplacingDestVanishes(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "out")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	err := Publish(dest, true, true, func(tmp string) error {
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

// Flushed or not, a tree is published whole and no temporary remains.
func TestPublishFlush(t *testing.T) {
	for _, flush := range []bool{false, true} {
		dir := t.TempDir()
		dest := filepath.Join(dir, "out")
		err := Publish(dest, false, flush, func(tmp string) error {
			if err := os.MkdirAll(filepath.Join(tmp, "blobs", "sha256"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(tmp, "blobs", "sha256", "x"), []byte("data"), 0o644)
		})
		if err != nil {
			t.Fatalf("flush=%v: %v", flush, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dest, "blobs", "sha256", "x")); string(b) != "data" {
			t.Errorf("flush=%v: dest holds %q", flush, b)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("flush=%v: temporaries left behind: %v", flush, ents)
		}
	}
}
