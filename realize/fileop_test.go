package realize

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/compiler"
)

func TestCopyNeverWritesThroughASymlinkInTheUpper(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: copies chown")
	}
	outside := t.TempDir()
	must(t, os.Chmod(outside, 0o700))
	if err := os.WriteFile(filepath.Join(outside, "f"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, upper, base := t.TempDir(), t.TempDir(), t.TempDir()
	must(t, os.MkdirAll(filepath.Join(src, "a"), 0o755))
	must(t, os.Symlink(outside, filepath.Join(src, "a", "x")))
	must(t, os.MkdirAll(filepath.Join(src, "b", "x"), 0o755))
	must(t, os.Chmod(filepath.Join(src, "b", "x"), 0o777))
	must(t, os.WriteFile(filepath.Join(src, "b", "x", "f"), []byte("evil"), 0o644))

	fa := &fileApplier{upper: upper, base: base}
	must(t, fa.copy(src, compiler.FileAction{Action: "copy", Src: "/a", Path: "/d"}))
	must(t, fa.copy(src, compiler.FileAction{Action: "copy", Src: "/b", Path: "/d"}))

	if b, err := os.ReadFile(filepath.Join(outside, "f")); err != nil || string(b) != "host" {
		t.Fatalf("the copy wrote outside the upper: %q, %v", b, err)
	}
	if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the copy changed a directory outside the upper: %v, %v", fi.Mode(), err)
	}
	// Docker replaces the symlink by the copied directory.
	if b, err := os.ReadFile(filepath.Join(upper, "d", "x", "f")); err != nil || string(b) != "evil" {
		t.Fatalf("d/x/f = %q, %v; want the copied file", b, err)
	}
}

func TestWhiteoutInBaseReadsAsAbsent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mknod")
	}
	upper, base := t.TempDir(), t.TempDir()
	must(t, unix.Mknod(filepath.Join(base, "w"), unix.S_IFCHR, 0))
	fa := &fileApplier{upper: upper, base: base}
	for _, a := range []compiler.FileAction{
		{Action: "mkdir", Path: "/w/sub", Mode: 0o755, Parents: true},
		{Action: "mkfile", Path: "/w/sub/f", Mode: 0o644, Data: "x"},
	} {
		if err := fa.apply(a); err != nil {
			t.Fatalf("%s %s: %v", a.Action, a.Path, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(upper, "w", "sub", "f")); err != nil || string(b) != "x" {
		t.Fatalf("w/sub/f = %q, %v", b, err)
	}
}

func TestLookupsNeverFollowASymlinkOutOfTheBase(t *testing.T) {
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "x"), nil, 0o644))
	upper, base := t.TempDir(), t.TempDir()
	must(t, os.Symlink(outside, filepath.Join(base, "a")))
	fa := &fileApplier{upper: upper, base: base}
	if _, _, err := fa.lstat("/a/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("lstat /a/x through a symlink to the host: %v, want not found", err)
	}
	err := fa.apply(compiler.FileAction{Action: "rm", Path: "/a/x"})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("rm /a/x through a symlink to the host: %v, want no such file", err)
	}
	if ents, _ := os.ReadDir(upper); len(ents) != 0 {
		t.Fatalf("rm of a missing path wrote %v into the upper", ents)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Destinations follow symlinks inside the state as Docker's COPY does
// (Debian's /bin is a link to usr/bin), and never out of it.
func TestDestinationsFollowSymlinksInsideTheState(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: copies chown, rm makes whiteouts")
	}
	src, upper, base := t.TempDir(), t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "tool"), []byte("tool"), 0o755))
	must(t, os.MkdirAll(filepath.Join(base, "usr", "bin"), 0o755))
	must(t, os.MkdirAll(filepath.Join(base, "usr", "lib"), 0o755))
	must(t, os.Symlink("usr/bin", filepath.Join(base, "bin")))
	must(t, os.Symlink("/usr/lib", filepath.Join(base, "lib")))
	must(t, os.Symlink("../../../../../..", filepath.Join(base, "up")))
	must(t, os.Symlink("/loop2", filepath.Join(base, "loop1")))
	must(t, os.Symlink("/loop1", filepath.Join(base, "loop2")))
	fa := &fileApplier{upper: upper, base: base}

	must(t, fa.copy(src, compiler.FileAction{Action: "copy", Src: "/tool", Path: "/bin/"}))
	must(t, fa.copy(src, compiler.FileAction{Action: "copy", Src: "/tool", Path: "/bin/renamed"}))
	must(t, fa.apply(compiler.FileAction{Action: "mkdir", Path: "/lib/x", Mode: 0o755}))
	must(t, fa.apply(compiler.FileAction{Action: "mkfile", Path: "/lib/x/f", Mode: 0o644, Data: "f"}))
	unique := "kiln-resolve-" + filepath.Base(upper)
	must(t, fa.apply(compiler.FileAction{Action: "mkfile", Path: "/up/" + unique, Mode: 0o644, Data: "f"}))
	must(t, fa.apply(compiler.FileAction{Action: "rm", Path: "/lib"}))

	for _, p := range []string{"usr/bin/tool", "usr/bin/renamed", "usr/lib/x/f", unique} {
		if _, err := os.Lstat(filepath.Join(upper, p)); err != nil {
			t.Errorf("%s is not in the upper: %v", p, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(upper, "lib")); err != nil || !isWhiteout(fi) {
		t.Errorf("rm /lib should remove the link itself (a whiteout in the upper): %v, %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(upper, "bin")); err == nil {
		t.Error("the copy replaced the /bin link instead of following it")
	}
	if _, err := os.Lstat("/" + unique); err == nil {
		os.Remove("/" + unique)
		t.Fatal("a link with .. wrote outside the state")
	}
	err := fa.apply(compiler.FileAction{Action: "mkfile", Path: "/loop1/f", Mode: 0o644, Data: "f"})
	if err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("a link loop: %v, want too many levels of symbolic links", err)
	}
}
