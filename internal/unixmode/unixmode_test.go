package unixmode

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

var table = []struct {
	unix   uint32
	goMode fs.FileMode
}{
	{0, 0},
	{0o644, 0o644},
	{0o755, 0o755},
	{0o777, 0o777},
	{0o4755, fs.ModeSetuid | 0o755},
	{0o2755, fs.ModeSetgid | 0o755},
	{0o1777, fs.ModeSticky | 0o777},
	{0o6711, fs.ModeSetuid | fs.ModeSetgid | 0o711},
	{0o7777, fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777},
	{0o7000, fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky},
}

func TestToFileMode(t *testing.T) {
	for _, tt := range table {
		if got := ToFileMode(tt.unix); got != tt.goMode {
			t.Errorf("ToFileMode(%#o) = %v, want %v", tt.unix, got, tt.goMode)
		}
		// The file type stat(2) puts above the permissions is not a mode.
		if got := ToFileMode(tt.unix | unix.S_IFDIR); got != tt.goMode {
			t.Errorf("ToFileMode(%#o|S_IFDIR) = %v, want %v", tt.unix, got, tt.goMode)
		}
	}
}

func TestFromFileMode(t *testing.T) {
	for _, tt := range table {
		if got := FromFileMode(tt.goMode); got != tt.unix {
			t.Errorf("FromFileMode(%v) = %#o, want %#o", tt.goMode, got, tt.unix)
		}
		if got := FromFileMode(tt.goMode | fs.ModeDir); got != tt.unix {
			t.Errorf("FromFileMode(%v|ModeDir) = %#o, want %#o", tt.goMode, got, tt.unix)
		}
	}
}

// TestAgreesWithKernel: a mode set through Go's os.Chmod reads back from
// stat(2) as FromFileMode says, and the other way round.
func TestAgreesWithKernel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range table {
		if err := os.Chmod(p, tt.goMode); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if got := st.Mode & 0o7777; got != tt.unix {
			t.Errorf("os.Chmod(%v) gives %#o on disk, want %#o", tt.goMode, got, tt.unix)
		}
		if err := unix.Chmod(p, tt.unix); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() &^ fs.ModeType; got != tt.goMode {
			t.Errorf("chmod %#o reads back through os.Stat as %v, want %v", tt.unix, got, tt.goMode)
		}
	}
}

func TestMkdirAllIgnoresUmask(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	p := filepath.Join(t.TempDir(), "a", "b")
	if err := MkdirAll(p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v under umask 077, want 0755", fi.Mode().Perm())
	}
}
