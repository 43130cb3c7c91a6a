package overlay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/testutil"
)

// layers makes n layer directories under a long path (so that mount(2)'s
// one-page option string overflows early), layer i holding the file "i"
// and, in "top", its own number.
func layers(t *testing.T, n int) []string {
	t.Helper()
	base := filepath.Join(t.TempDir(), strings.Repeat("long-directory-name-", 3))
	var out []string
	for i := range n {
		d := filepath.Join(base, fmt.Sprintf("%064d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{fmt.Sprint(i), "top"} {
			if err := os.WriteFile(filepath.Join(d, f), []byte(fmt.Sprint(i)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, d)
	}
	return out
}

func mounted(t *testing.T, under string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, under) {
			out = append(out, l)
		}
	}
	return out
}

// TestDetachedDeepStack mounts stacks far past what fits in mount(2)'s
// options, up to overlayfs's own limit, and reads them; the mount is in no
// mount table, so a killed kiln can leave none behind.
func TestDetachedDeepStack(t *testing.T) {
	testutil.RequireRoot(t)
	ls := layers(t, MaxLowers)
	for _, n := range []int{2, 60, 200, MaxLowers} {
		if _, err := Data(Config{Lowers: ls[:n]}); n > 30 && err == nil {
			t.Errorf("%d layers: mount(2) options fit in a page; make the paths longer", n)
		}
		m, err := Detached(Config{Lowers: ls[:n], ReadOnly: true})
		if err != nil {
			t.Fatalf("%d layers: %v", n, err)
		}
		for _, f := range []string{"0", fmt.Sprint(n - 1)} {
			if _, err := os.Stat(filepath.Join(m.Path(), f)); err != nil {
				t.Errorf("%d layers: %v", n, err)
			}
		}
		if b, err := os.ReadFile(filepath.Join(m.Path(), "top")); err != nil || string(b) != fmt.Sprint(n-1) {
			t.Errorf("%d layers: top = %q, %v; want the last layer's", n, b, err)
		}
		if err := os.WriteFile(filepath.Join(m.Path(), "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			t.Errorf("%d layers: writing into a read-only mount: %v", n, err)
		}
		if got := mounted(t, filepath.Dir(ls[0])); len(got) > 0 {
			t.Errorf("a detached mount shows in the mount table:\n%s", strings.Join(got, "\n"))
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Detached(Config{Lowers: append(ls, ls[0])})
	var deep *TooDeepError
	if !errors.As(err, &deep) || !strings.Contains(err.Error(), "a state of 501 layers is more than overlayfs can stack (at most 500)") {
		t.Errorf("501 layers: %v", err)
	}
}

// TestMountAtWritable mounts a writable overlay with options at a path, on
// the new API and on mount(2), and checks that writes land in the upper.
func TestMountAtWritable(t *testing.T) {
	testutil.RequireRoot(t)
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprint("legacy=", legacy), func(t *testing.T) {
			legacyOnly = legacy
			defer func() { legacyOnly = false }()
			ls := layers(t, 3)
			dir := t.TempDir()
			upper, work, target := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "m")
			for _, d := range []string{upper, work, target} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			err := MountAt(target, Config{Lowers: ls, Upper: upper, Work: work, Options: []string{"redirect_dir=off", "index=off", "volatile"}})
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Unmount(target, unix.MNT_DETACH)
			if b, err := os.ReadFile(filepath.Join(target, "top")); err != nil || string(b) != "2" {
				t.Errorf("top = %q, %v", b, err)
			}
			if err := os.WriteFile(filepath.Join(target, "new"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(upper, "new")); err != nil {
				t.Errorf("the write did not reach the upper: %v", err)
			}
			if got := mounted(t, target); len(got) != 1 || !strings.Contains(got[0], "volatile") {
				t.Errorf("mount table: %q", got)
			}
		})
	}
}

// TestLegacyTooManyLayers: where mount(2) is all there is, a stack whose
// options overflow says so, instead of the kernel's bare ENOENT or EINVAL.
func TestLegacyTooManyLayers(t *testing.T) {
	testutil.RequireRoot(t)
	legacyOnly = true
	defer func() { legacyOnly = false }()
	target := t.TempDir()
	err := MountAt(target, Config{Lowers: layers(t, 60), ReadOnly: true})
	if err == nil {
		unix.Unmount(target, unix.MNT_DETACH)
		t.Fatal("60 long layer paths fit into mount(2)'s options")
	}
	if !strings.Contains(err.Error(), "60 layers need") || !strings.Contains(err.Error(), "merge some of the steps") {
		t.Errorf("error = %v", err)
	}
}

// TestLongAndOddPaths: a layer path longer than fsconfig takes as a string,
// and one with the characters mount(2)'s options cannot carry.
func TestLongAndOddPaths(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	long := filepath.Join(base, strings.Repeat("d", 200), strings.Repeat("e", 200))
	odd := filepath.Join(base, "a:b,c")
	for i, d := range []string{long, odd} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Detached(Config{Lowers: []string{long, odd}, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, f := range []string{"0", "1"} {
		if _, err := os.Stat(filepath.Join(m.Path(), f)); err != nil {
			t.Error(err)
		}
	}
}

func TestMissingLayer(t *testing.T) {
	testutil.RequireRoot(t)
	ls := layers(t, 2)
	_, err := Detached(Config{Lowers: []string{ls[0], "/nonexistent/kiln-layer"}, ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/kiln-layer") || !errors.Is(err, unix.ENOENT) {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkView compares a read-only view of a shallow stack (what most
// file steps read) mounted the old way (mount(2) at a path, then
// unmounted) with a detached mount through the new API.
func BenchmarkView(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for _, n := range []int{2, 5, 60} {
		dir := b.TempDir()
		var ls []string
		for i := range n {
			d := filepath.Join(dir, fmt.Sprintf("%064d", i))
			os.MkdirAll(filepath.Join(d, "etc"), 0o755)
			os.WriteFile(filepath.Join(d, "etc", fmt.Sprint(i)), nil, 0o644)
			ls = append(ls, d)
		}
		c := Config{Lowers: ls, ReadOnly: true}
		read := func(root string) {
			if _, err := os.Stat(filepath.Join(root, "etc", "0")); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := Data(c); err == nil {
			b.Run(fmt.Sprintf("mount2/%d", n), func(b *testing.B) {
				target := filepath.Join(dir, "view")
				os.Mkdir(target, 0o755)
				legacyOnly = true
				defer func() { legacyOnly = false }()
				for b.Loop() {
					if err := MountAt(target, c); err != nil {
						b.Fatal(err)
					}
					read(target)
					if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("detached/%d", n), func(b *testing.B) {
			for b.Loop() {
				m, err := Detached(c)
				if err != nil {
					b.Fatal(err)
				}
				read(m.Path())
				m.Close()
			}
		})
	}
}
