package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalSymlinksStayLinks: symlinks inside a local tree, to the host or
// through a parent, are hashed and copied as links, never followed: the
// layer holds the link, not the host's files.
func TestLocalSymlinksStayLinks(t *testing.T) {
	t.Parallel()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub/in.txt"), []byte("in"), 0o644)
	for name, target := range map[string]string{
		"hostdir":    host,
		"hostfile":   filepath.Join(host, "secret"),
		"up":         "../../../..",
		"sub/inside": "in.txt",
	} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	want := srcMustHash(t, src, nil, nil, nil)
	// Changing the host file must not change the hash: it was never read.
	os.WriteFile(filepath.Join(host, "secret"), []byte("other secret"), 0o600)
	if h := srcMustHash(t, src, nil, nil, nil); h != want {
		t.Fatalf("the hash followed a symlink out of the tree: %s then %s", want, h)
	}
	dest := t.TempDir()
	got, err := CopyLocal(src, nil, nil, dest, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("copy hash %s, want %s", got, want)
	}
	for _, name := range []string{"hostdir", "hostfile", "up", "sub/inside"} {
		fi, err := os.Lstat(filepath.Join(dest, name))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: copied as %v (%v), want a symlink", name, fi.Mode(), err)
		}
	}
}

// TestLocalIgnoreFileOutside: a .kilnignore that is a symlink to a host
// file is refused rather than read (a bad pattern would quote its lines);
// one pointing inside the source is read.
func TestLocalIgnoreFileOutside(t *testing.T) {
	t.Parallel()
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "shadow"), []byte("root:$6$secrethash:19000:0:99999:7:::\n[\n"), 0o600)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o644)
	if err := os.Symlink(filepath.Join(host, "shadow"), filepath.Join(src, ".kilnignore")); err != nil {
		t.Fatal(err)
	}
	_, err := LocalHash(src, nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "outside the local source's folder") {
		t.Fatalf("symlinked .kilnignore: error %v", err)
	}
	if strings.Contains(err.Error(), "secrethash") {
		t.Fatalf("the error quotes the host file: %v", err)
	}

	os.Remove(filepath.Join(src, ".kilnignore"))
	os.WriteFile(filepath.Join(src, "ignore.real"), []byte("*.txt\n"), 0o644)
	os.Symlink("ignore.real", filepath.Join(src, ".kilnignore"))
	root, entries, err := localWalk(src, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	root.Close()
	for _, e := range entries {
		if e.rel == "a.txt" {
			t.Errorf("the in-tree .kilnignore symlink was not read: a.txt kept")
		}
	}
}

// TestOpenNoFollow: once the walk saw a path as a file, a later open of it
// does not follow a symlink that replaced one of its components.
// Not parallel: it switches the package to the fallback for a while.
func TestOpenNoFollow(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), []byte("host"), 0o600)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "d/f"), []byte("tree"), 0o644)
	root, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	f, err := openNoFollow(root, "d/f", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	// The directory becomes a symlink to the host, then the file itself.
	os.RemoveAll(filepath.Join(src, "d"))
	os.Symlink(host, filepath.Join(src, "d"))
	if f, err := openNoFollow(root, "d/f", os.O_RDONLY); err == nil {
		f.Close()
		t.Fatal("opened d/f through a symlinked directory")
	}
	os.Remove(filepath.Join(src, "d"))
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	os.Symlink(filepath.Join(host, "f"), filepath.Join(src, "d/f"))
	if f, err := openNoFollow(root, "d/f", os.O_RDONLY); err == nil {
		f.Close()
		t.Fatal("opened d/f through a symlink")
	}
	// The fallback for kernels without openat2 refuses the same.
	openat2Missing.Store(true)
	defer openat2Missing.Store(false)
	if f, err := openNoFollow(root, "d/f", os.O_RDONLY); err == nil {
		f.Close()
		t.Fatal("fallback opened d/f through a symlink")
	}
}

// TestOCILayoutSymlinkOutside: a file of a layout directory that is a
// symlink leading out of the layout is not read.
func TestOCILayoutSymlinkOutside(t *testing.T) {
	t.Parallel()
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o600)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	if err := os.Symlink(filepath.Join(host, "index.json"), filepath.Join(dir, "index.json")); err != nil {
		t.Fatal(err)
	}
	newDir := func() (string, error) { return t.TempDir(), nil }
	// Resolved inside the layout, the link's target does not exist there.
	_, err := FetchOCILayout(t.Context(), dir, "", "", "", 0, newDir)
	if err == nil || !strings.Contains(err.Error(), "no index.json") {
		t.Fatalf("symlinked index.json: %v", err)
	}
}
