package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/realize/overlay"
)

// TestChooseFallsBackWhereOverlayIsRefused probes in a directory on an
// overlay mount, which overlayfs refuses as an upper directory: the
// choice is the copy snapshotter, and the message says why.
func TestChooseFallsBackWhereOverlayIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("overlay mounts need root")
	}
	t.Setenv(EnvVar, "")
	dir := t.TempDir()
	l, u, w := filepath.Join(dir, "l"), filepath.Join(dir, "u"), filepath.Join(dir, "w")
	for _, d := range []string{l, u, w} {
		must(t, os.Mkdir(d, 0o755))
	}
	m, err := overlay.Detached(overlay.Config{Lowers: []string{l}, Upper: u, Work: w})
	if errors.Is(err, overlay.ErrUnsupported) {
		t.Skip(err)
	}
	must(t, err)
	defer m.Close()

	reset()
	defer reset()
	kind, msg, err := Choose(m.Path())
	must(t, err)
	if kind != Copy || !strings.HasPrefix(msg, "overlay refused: copying layers instead (slower)") {
		t.Fatalf("Choose on an overlay = %s, %q; want copy, saying overlay was refused", kind, msg)
	}
	// Decided once per process.
	if k, _, _ := Choose(dir); k != Copy {
		t.Fatalf("the second Choose decided again: %s", k)
	}

	reset()
	kind, msg, err = Choose(dir)
	must(t, err)
	if kind != Overlay || msg != "" {
		t.Fatalf("Choose where overlayfs works = %s, %q; want overlay, silently", kind, msg)
	}
}

func TestChooseSetting(t *testing.T) {
	for v, want := range map[string]Kind{"copy": Copy, "overlay": Overlay, "fuse": ""} {
		t.Setenv(EnvVar, v)
		reset()
		k, _, err := Choose(t.TempDir())
		if k != want || (want == "") != (err != nil) {
			t.Errorf("%s=%s: got %s, %v", EnvVar, v, k, err)
		}
	}
	reset()
}
