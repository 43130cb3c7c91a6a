package infolder

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestJoin(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	base := filepath.Join(work, "proj")
	host := filepath.Join(work, "host")
	for _, d := range []string{base + "/sub", host} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(host, "secret"), []byte("s"), 0o600)
	os.WriteFile(filepath.Join(base, "sub/f"), []byte("f"), 0o644)
	links := map[string]string{
		"out":        host,
		"outfile":    filepath.Join(host, "secret"),
		"up":         "..",
		"in":         "sub",
		"inabs":      filepath.Join(base, "sub"),
		"sub/back":   "../sub/f",
		"dangling":   filepath.Join(host, "nothing"),
		"sub/upfile": "../../host/secret",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		p    string
		want error
	}{
		{"sub/f", nil},
		{"in", nil},
		{"in/f", nil},
		{"inabs/f", nil},
		{"sub/back", nil},
		{"missing", nil},
		{"dangling", nil}, // nothing to read; the open says so
		{"/etc/passwd", ErrAbsolute},
		{"../host/secret", ErrOutside},
		{"out", ErrSymlink},
		{"outfile", ErrSymlink},
		{"out/secret", ErrSymlink},
		{"up/host/secret", ErrSymlink},
		{"sub/upfile", ErrSymlink},
	} {
		_, err := Join(base, tt.p)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("Join(%q) = %v, want %v", tt.p, err, tt.want)
		}
	}
	// A relative base is taken from the working directory.
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, base)
	if err != nil {
		t.Skip(err)
	}
	if _, err := Join(rel, "inabs/f"); err != nil {
		t.Errorf("relative base, absolute link inside: %v", err)
	}
	if _, err := Join(rel, "outfile"); !errors.Is(err, ErrSymlink) {
		t.Errorf("relative base, link outside: %v", err)
	}
}
