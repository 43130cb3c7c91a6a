package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/store"
)

// TestOpenStoreEarly: a session that opens its store while it loads hands
// that store to Build, and closes it when the load fails or the session
// is closed without building, so that the store can be opened again.
func TestOpenStoreEarly(t *testing.T) {
	const noSteps = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}
source "local" "files" {
  path = "rootfs"
}
stage "app" {
  from = source.local.files
}
`
	reopen := func(t *testing.T, root string) {
		t.Helper()
		st, err := store.Open(root)
		if err != nil {
			t.Fatalf("opening the store after the session: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("build", func(t *testing.T) {
		file := project(t, noSteps, false)
		if err := os.WriteFile(filepath.Join(filepath.Dir(file), "rootfs", "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(t.TempDir(), "store")
		s, err := Open(Options{File: file, StoreRoot: root, OpenStoreEarly: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Build(context.Background(), []string{"stage.app"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		reopen(t, root)
	})
	t.Run("bad file", func(t *testing.T) {
		file := project(t, "stage {", false)
		root := filepath.Join(t.TempDir(), "store")
		if _, err := Open(Options{File: file, StoreRoot: root, OpenStoreEarly: true}); err == nil {
			t.Fatal("Open of a bad build file: no error")
		}
		reopen(t, root)
	})
	t.Run("no build", func(t *testing.T) {
		file := project(t, noSteps, false)
		root := filepath.Join(t.TempDir(), "store")
		s, err := Open(Options{File: file, StoreRoot: root, OpenStoreEarly: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		reopen(t, root)
	})
}
