package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// entries lists dir's names, to find temporaries left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteFileMode: the file gets exactly the mode asked for, special
// bits included, whatever the umask, and replaces an older file's mode.
func TestWriteFileMode(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, perm := range []fs.FileMode{0o644, 0o664, 0o755, 0o444, 0o600, fs.ModeSetuid | 0o755, fs.ModeSetgid | fs.ModeSticky | 0o750} {
		data := []byte(perm.String())
		if err := WriteFile(path, data, perm); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() &^ fs.ModeType; got != perm {
			t.Errorf("WriteFile(%v) under umask 077 made mode %v", perm, got)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
			t.Errorf("WriteFile(%v) wrote %q, want %q", perm, got, data)
		}
	}
	if names := entries(t, dir); !slices.Equal(names, []string{"f"}) {
		t.Errorf("the folder holds %v, want only f", names)
	}
}

// TestWriteFileConcurrent: writers racing on one path, with a reader
// watching it, never show a half-written file and leave no temporary; the
// file ends as one writer's content, whole.
func TestWriteFileConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "build.lock.hcl")
	const writers, rounds = 8, 20
	content := func(w int) []byte {
		// Large enough that a write takes several system calls' worth of
		// page cache, different per writer, and checkable from any byte.
		return bytes.Repeat([]byte(fmt.Sprintf("writer %d\n", w)), 64<<10)
	}
	whole := map[string]bool{}
	for w := 0; w < writers; w++ {
		whole[string(content(w))] = true
	}
	if err := WriteFile(path, content(0), 0o644); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var torn atomic.Int64
	var reads sync.WaitGroup
	reads.Add(1)
	go func() {
		defer reads.Done()
		for !stop.Load() {
			b, err := os.ReadFile(path)
			if err != nil || !whole[string(b)] {
				torn.Add(1)
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				if err := WriteFile(path, content(w), 0o644); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	reads.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a writer failed: %v", err)
	}
	if n := torn.Load(); n > 0 {
		t.Errorf("the reader saw a missing or partial file %d times", n)
	}
	if b, _ := os.ReadFile(path); !whole[string(b)] {
		t.Errorf("the file ends as %d bytes that are no writer's whole content", len(b))
	}
	if names := entries(t, dir); !slices.Equal(names, []string{"build.lock.hcl"}) {
		t.Errorf("the folder holds %v, want only build.lock.hcl", names)
	}
}

// TestWriteFailingFill: a writer that fails part way leaves the old file as
// it was and no temporary, and its error comes back as it is.
func TestWriteFailingFill(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old content"), 0o640); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("sha256 mismatch")
	err := Write(path, 0o644, func(f *os.File) error {
		if _, err := f.Write([]byte("half of the new")); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Write returned %v, want the fill's own error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old content" {
		t.Errorf("the old file now holds %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode() != 0o640 {
		t.Errorf("the old file's mode is now %v", fi.Mode())
	}
	if names := entries(t, dir); !slices.Equal(names, []string{"f"}) {
		t.Errorf("the folder holds %v, want only f", names)
	}
}

// TestWriteFileErrors: when the temporary cannot be made or cannot take
// the name, nothing is left behind and what was at path stays.
func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("into a missing folder: got %v, want not-exist", err)
	}
	// A non-empty directory at path: the rename fails.
	busy := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(busy, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(busy, []byte("x"), 0o644); err == nil {
		t.Error("WriteFile over a non-empty directory succeeded")
	}
	if fi, err := os.Stat(filepath.Join(busy, "inside")); err != nil || !fi.IsDir() {
		t.Errorf("the directory at path changed: %v", err)
	}
	if names := entries(t, dir); !slices.Equal(names, []string{"busy"}) {
		t.Errorf("the folder holds %v, want only busy", names)
	}
}

// TestWriteFileBareName: a path without a folder is written in the
// working directory, and a name too long for a temporary's decoration
// still works.
func TestWriteFileBareName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	long := string(bytes.Repeat([]byte("n"), 250))
	for _, name := range []string{"build.hcl", long} {
		if err := WriteFile(name, []byte("x"), 0o644); err != nil {
			t.Fatalf("WriteFile(%.20q…): %v", name, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "x" {
			t.Errorf("%.20q…: %q, %v", name, b, err)
		}
	}
	if names := entries(t, dir); len(names) != 2 {
		t.Errorf("the folder holds %v, want only the two files", names)
	}
}
