package source

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/testutil"
)

type memDebCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memDebCache) Open(sum string) (io.ReadCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[sum]
	if !ok {
		return nil, nil
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (c *memDebCache) Add(r io.Reader, sum string) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	h := sha256.Sum256(b)
	if hex.EncodeToString(h[:]) != sum {
		return errors.New("digest mismatch")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[sum] = b
	return nil
}

// buildDeb makes a real .deb with dpkg-deb holding ./bin/tool and
// ./usr/share/doc/NAME/README.
func buildDeb(t *testing.T, name string) []byte {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for p, c := range map[string]string{
		"DEBIAN/control":                    "Package: " + name + "\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: kiln <kiln@localhost>\nDescription: test\n",
		"bin/tool":                          "#!/bin/sh\necho tool\n",
		"usr/share/doc/" + name + "/README": "readme\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name+".deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDebFetchAndAssemble(t *testing.T) {
	deb := buildDeb(t, "kiln-test")
	sum := sha256.Sum256(deb)
	pkg := DebPackage{Name: "kiln-test", Version: "1.0-1", Architecture: "amd64", Filename: "pool/main/k/kiln-test.deb", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(deb))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/debian/"+pkg.Filename {
			w.Write(deb)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	ctx := context.Background()

	t.Run("mismatch", func(t *testing.T) {
		cache := &memDebCache{m: map[string][]byte{}}
		bad := pkg
		bad.SHA256 = strings.Repeat("0", 64)
		err := FetchDebs(ctx, srv.Client(), []string{srv.URL + "/debian"}, []DebPackage{bad}, cache, 2)
		var me *MismatchError
		if !errors.As(err, &me) || me.Got != pkg.SHA256 || !strings.Contains(err.Error(), "kiln-test") {
			t.Fatalf("got %v, want a mismatch naming the package and both hashes", err)
		}
		if len(cache.m) != 0 {
			t.Fatal("a mismatching download was kept")
		}
	})
	t.Run("cut short", func(t *testing.T) {
		// The server promises the whole file and hangs up halfway: that is
		// a failed download to retry, not a mismatch that asks for a new
		// lock.
		cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(deb)))
			w.Write(deb[:len(deb)/2])
		}))
		defer cut.Close()
		cache := &memDebCache{m: map[string][]byte{}}
		err := FetchDebs(ctx, cut.Client(), []string{cut.URL + "/debian"}, []DebPackage{pkg}, cache, 2)
		var me *MismatchError
		if err == nil || errors.As(err, &me) || !strings.Contains(err.Error(), "try again") {
			t.Fatalf("got %v, want a download error that is not a mismatch", err)
		}
		if len(cache.m) != 0 {
			t.Fatal("a partial download was kept")
		}
	})
	t.Run("gone", func(t *testing.T) {
		gone := pkg
		gone.Filename = "pool/main/k/gone.deb"
		err := FetchDebs(ctx, srv.Client(), []string{srv.URL + "/debian"}, []DebPackage{gone}, &memDebCache{m: map[string][]byte{}}, 2)
		if err == nil || !strings.Contains(err.Error(), "package kiln-test 1.0-1 is no longer in the repository") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("several repositories", func(t *testing.T) {
		// One repository lacks the file, another serves other bytes under
		// its name, a third has it: the package comes from the third.
		empty := httptest.NewServer(http.NotFoundHandler())
		defer empty.Close()
		wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(append([]byte(nil), deb[:len(deb)-1]...))
			w.Write([]byte{deb[len(deb)-1] ^ 1})
		}))
		defer wrong.Close()
		cache := &memDebCache{m: map[string][]byte{}}
		if err := FetchDebs(ctx, srv.Client(), []string{empty.URL, wrong.URL + "/debian", srv.URL + "/debian"}, []DebPackage{pkg}, cache, 2); err != nil {
			t.Fatal(err)
		}
		if len(cache.m) != 1 {
			t.Fatalf("cache holds %d files, want the package", len(cache.m))
		}
		err := FetchDebs(ctx, srv.Client(), []string{empty.URL, wrong.URL}, []DebPackage{pkg}, &memDebCache{m: map[string][]byte{}}, 2)
		var me *MismatchError
		if !errors.As(err, &me) {
			t.Fatalf("no repository with the right file: %v, want the mismatch", err)
		}
		err = FetchDebs(ctx, srv.Client(), []string{empty.URL, empty.URL + "/x"}, []DebPackage{pkg}, &memDebCache{m: map[string][]byte{}}, 2)
		if err == nil || !strings.Contains(err.Error(), "is no longer in the repositories") {
			t.Fatalf("no repository with the file: %v", err)
		}
	})
	t.Run("assemble", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("unpacking sets owners: needs root")
		}
		cache := &memDebCache{m: map[string][]byte{}}
		if err := FetchDebs(ctx, srv.Client(), []string{srv.URL + "/debian"}, []DebPackage{pkg}, cache, 2); err != nil {
			t.Fatal(err)
		}
		tree := t.TempDir()
		if err := AssembleDebs([]DebPackage{pkg}, cache, tree, 0); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(tree, "usr/bin/tool")); err != nil || !strings.Contains(string(b), "echo tool") {
			t.Fatalf("usr/bin/tool: %q %v", b, err)
		}
		if l, err := os.Readlink(filepath.Join(tree, "bin")); err != nil || l != "usr/bin" {
			t.Fatalf("bin -> %q, %v; want the merged-/usr link", l, err)
		}
		if _, err := os.Lstat(filepath.Join(tree, "lib")); !os.IsNotExist(err) {
			t.Fatalf("lib exists (%v) though no package ships /lib", err)
		}
		if b, _ := os.ReadFile(filepath.Join(tree, "etc/passwd")); string(b) != "root:x:0:0:root:/root:/bin/sh\n" {
			t.Fatalf("etc/passwd = %q", b)
		}
		if st, err := os.Stat(filepath.Join(tree, "tmp")); err != nil || st.Mode()&os.ModeSticky == 0 {
			t.Fatalf("tmp: %v %v", st, err)
		}
	})
}

func TestParseDebManifest(t *testing.T) {
	good := "a 1.0 amd64 pool/main/a/a.deb " + strings.Repeat("ab", 32) + " 10\n"
	ps, err := ParseDebManifest(good)
	if err != nil || len(ps) != 1 || ps[0].Size != 10 || ps[0].Filename != "pool/main/a/a.deb" {
		t.Fatalf("%+v %v", ps, err)
	}
	for _, bad := range []string{
		"",
		"a 1.0 amd64 pool/a.deb abc 10\n",
		"a 1.0 amd64 ../../etc/shadow " + strings.Repeat("ab", 32) + " 10\n",
		"a 1.0 amd64 pool/a.deb " + strings.Repeat("ab", 32) + " -1\n",
	} {
		if _, err := ParseDebManifest(bad); err == nil {
			t.Errorf("ParseDebManifest(%q) accepted it", bad)
		}
	}
}

// assembleCrafted assembles one crafted package per data.tar into tree.
func assembleCrafted(t testing.TB, tree string, dataTars ...[]byte) error {
	t.Helper()
	cache := &memDebCache{m: map[string][]byte{}}
	var pkgs []DebPackage
	for i, data := range dataTars {
		name := fmt.Sprintf("evil%d", i)
		deb := testutil.Deb(t, name, "1.0", "amd64", "data.tar", data)
		sum := sha256.Sum256(deb)
		hexSum := hex.EncodeToString(sum[:])
		cache.m[hexSum] = deb
		pkgs = append(pkgs, DebPackage{Name: name, Version: "1.0", Architecture: "amd64", Filename: "pool/" + name + ".deb", SHA256: hexSum, Size: int64(len(deb))})
	}
	return AssembleDebs(pkgs, cache, tree, 0)
}

// emptyDir fails the test unless dir exists and holds nothing.
func emptyDir(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("kiln wrote %s on the host", filepath.Join(dir, e.Name()))
	}
}

// TestAssembleDebsStaysInTree: packages are untrusted, so every path kiln
// reads or writes while assembling a deb source resolves inside the tree
// as the image will see it. Symlinks a package ships towards the host
// neither make kiln write there nor copy a host file into the layer.
func TestAssembleDebsStaysInTree(t *testing.T) {
	testutil.RequireRoot(t) // unpacking sets owners
	const secret = "host-secret:do-not-copy\n"
	const rootOnly = "root:x:0:0:root:/root:/bin/sh\n"
	type T = testutil.TarEntry
	for _, tc := range []struct {
		name string
		// data gets the host directory that must stay empty and the host
		// file whose contents must not reach the tree.
		data func(outside, secretFile string) [][]byte
		// check looks at the assembled tree; nil means assembly must fail
		// with an error containing wantErr.
		check   func(t *testing.T, tree, outside string)
		wantErr string
	}{
		{name: "etc-absolute-symlink", data: func(outside, _ string) [][]byte {
			// In the image, /etc is a symlink to a directory that does not
			// exist there: no Debian system looks like this.
			return [][]byte{testutil.Tar(t, T{Name: "./etc", Type: tar.TypeSymlink, Link: outside})}
		}, wantErr: "/etc is a symlink to a missing directory"},
		{name: "etc-relative-symlink", data: func(outside, _ string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./etc", Type: tar.TypeSymlink, Link: "../../../../../../../.." + outside})}
		}, wantErr: "/etc is a symlink to a missing directory"},
		{name: "etc-in-tree-symlink", data: func(outside, _ string) [][]byte {
			// A symlink that climbs out but lands on a directory of the
			// image resolves there, as it will in a container.
			return [][]byte{testutil.Tar(t, T{Name: "./usr/etc/", Type: tar.TypeDir}, T{Name: "./etc", Type: tar.TypeSymlink, Link: "../../../../../usr/etc"})}
		}, check: func(t *testing.T, tree, outside string) {
			if b, err := os.ReadFile(filepath.Join(tree, "usr/etc/passwd")); err != nil || string(b) != rootOnly {
				t.Errorf("passwd through the image's /etc: %q, %v", b, err)
			}
		}},
		{name: "etc-dangling-symlink", data: func(outside, _ string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./etc", Type: tar.TypeSymlink, Link: outside + "/missing/dir"})}
		}, wantErr: "/etc is a symlink to a missing directory"},
		{name: "etc-file", data: func(outside, _ string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./etc", Body: "x"})}
		}, wantErr: "/etc is not a directory"},
		{name: "passwd-symlink-kept", data: func(outside, _ string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./etc/", Type: tar.TypeDir}, T{Name: "./etc/passwd", Type: tar.TypeSymlink, Link: outside + "/passwd"})}
		}, check: func(t *testing.T, tree, outside string) {
			// A package's own /etc/passwd, a symlink, is left as it is.
			if l, err := os.Readlink(filepath.Join(tree, "etc/passwd")); err != nil || l != outside+"/passwd" {
				t.Errorf("etc/passwd -> %q, %v", l, err)
			}
		}},
		{name: "master-absolute-symlink", data: func(_, secretFile string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./usr/share/base-passwd/passwd.master", Type: tar.TypeSymlink, Link: secretFile})}
		}, check: func(t *testing.T, tree, _ string) {
			// The image has no such file: the root-only fallback.
			if b, _ := os.ReadFile(filepath.Join(tree, "etc/passwd")); string(b) != rootOnly {
				t.Errorf("etc/passwd = %q, want the root-only fallback", b)
			}
		}},
		{name: "master-relative-symlink", data: func(_, secretFile string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./usr/share/base-passwd/group.master", Type: tar.TypeSymlink, Link: "../../../../../../../../.." + secretFile})}
		}, check: func(t *testing.T, tree, _ string) {
			if b, _ := os.ReadFile(filepath.Join(tree, "etc/group")); string(b) != "root:x:0:\n" {
				t.Errorf("etc/group = %q, want the root-only fallback", b)
			}
		}},
		{name: "master-dir-symlink", data: func(_, secretFile string) [][]byte {
			// base-passwd itself a symlink to the host folder holding a
			// passwd.master.
			return [][]byte{testutil.Tar(t, T{Name: "./usr/share/base-passwd", Type: tar.TypeSymlink, Link: filepath.Dir(secretFile)})}
		}, check: func(t *testing.T, tree, _ string) {
			if b, _ := os.ReadFile(filepath.Join(tree, "etc/passwd")); string(b) != rootOnly {
				t.Errorf("etc/passwd = %q, want the root-only fallback", b)
			}
		}},
		{name: "master-in-tree-symlink", data: func(_, _ string) [][]byte {
			// Symlinks inside the image keep their meaning.
			return [][]byte{testutil.Tar(t,
				T{Name: "./usr/share/base-passwd/passwd.real", Body: "root:x:0:0::/root:/bin/bash\n"},
				T{Name: "./usr/share/base-passwd/passwd.master", Type: tar.TypeSymlink, Link: "/usr/share/base-passwd/passwd.real"})}
		}, check: func(t *testing.T, tree, _ string) {
			if b, _ := os.ReadFile(filepath.Join(tree, "etc/passwd")); string(b) != "root:x:0:0::/root:/bin/bash\n" {
				t.Errorf("etc/passwd = %q", b)
			}
		}},
		{name: "master-fifo", data: func(_, _ string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./usr/share/base-passwd/passwd.master", Type: tar.TypeFifo})}
		}, wantErr: "passwd.master: not a regular file"},
		{name: "root-and-tmp-symlinks", data: func(outside, _ string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./root", Type: tar.TypeSymlink, Link: outside}, T{Name: "./tmp", Type: tar.TypeSymlink, Link: "../../../../.." + outside})}
		}, check: func(t *testing.T, tree, outside string) {
			if l, err := os.Readlink(filepath.Join(tree, "tmp")); err != nil || !strings.HasSuffix(l, outside) {
				t.Errorf("tmp -> %q, %v", l, err)
			}
		}},
		{name: "etc-symlink-from-later-package", data: func(outside, _ string) [][]byte {
			// A later package swaps an earlier package's empty /etc for a
			// symlink, then writes through it.
			return [][]byte{
				testutil.Tar(t, T{Name: "./etc/", Type: tar.TypeDir}),
				testutil.Tar(t, T{Name: "./etc", Type: tar.TypeSymlink, Link: outside}, T{Name: "./etc/motd", Body: "x"}),
			}
		}, wantErr: `"etc/motd"`},
		{name: "dir-replaced-by-symlink", data: func(outside, _ string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./etc/", Type: tar.TypeDir}, T{Name: "./etc/a", Body: "x"}, T{Name: "./etc", Type: tar.TypeSymlink, Link: outside})}
		}, wantErr: "replacing an earlier directory"},
		{name: "hardlink-host-file", data: func(_, secretFile string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./etc/passwd", Type: tar.TypeLink, Link: secretFile})}
		}, wantErr: "hardlink target"},
		{name: "hardlink-dotdot", data: func(_, secretFile string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./etc/passwd", Type: tar.TypeLink, Link: "../../../../../../.." + secretFile})}
		}, wantErr: "hardlink target"},
		{name: "hardlink-to-symlink", data: func(_, secretFile string) [][]byte {
			return [][]byte{testutil.Tar(t,
				T{Name: "./usr/share/base-passwd/l", Type: tar.TypeSymlink, Link: secretFile},
				T{Name: "./usr/share/base-passwd/passwd.master", Type: tar.TypeLink, Link: "./usr/share/base-passwd/l"})}
		}, check: func(t *testing.T, tree, _ string) {
			if b, _ := os.ReadFile(filepath.Join(tree, "etc/passwd")); string(b) != rootOnly {
				t.Errorf("etc/passwd = %q, want the root-only fallback", b)
			}
		}},
		{name: "device-node", data: func(_, _ string) [][]byte {
			return [][]byte{testutil.Tar(t, T{Name: "./dev/sda", Type: tar.TypeBlock})}
		}, wantErr: "device nodes are not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := t.TempDir()
			outside := filepath.Join(host, "outside")
			secretDir := filepath.Join(host, "secret")
			tree := filepath.Join(host, "tree")
			for _, d := range []string{outside, secretDir, tree} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			secretFile := filepath.Join(secretDir, "passwd.master")
			if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			err := assembleCrafted(t, tree, tc.data(outside, secretFile)...)
			emptyDir(t, outside)
			if b, _ := os.ReadFile(secretFile); string(b) != secret {
				t.Errorf("the host file changed: %q", b)
			}
			if tc.check == nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, tree, outside)
			filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					if b, _ := os.ReadFile(p); strings.Contains(string(b), "host-secret") {
						t.Errorf("%s holds the host file's contents", p)
					}
				}
				return nil
			})
		})
	}
}

// TestAssembleDebsModes: what kiln creates in a deb source has the same
// modes whatever the umask of the kiln process.
func TestAssembleDebsModes(t *testing.T) {
	testutil.RequireRoot(t)
	for _, mask := range []int{0o000, 0o077} {
		old := unix.Umask(mask)
		tree := t.TempDir()
		err := assembleCrafted(t, tree, testutil.Tar(t, testutil.TarEntry{Name: "./usr/share/doc/x", Body: "x"}))
		unix.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]os.FileMode{
			"etc": fs.ModeDir | 0o755, "etc/passwd": 0o644, "etc/group": 0o644,
			"root": fs.ModeDir | 0o700, "tmp": fs.ModeDir | fs.ModeSticky | 0o777,
		} {
			if fi, err := os.Lstat(filepath.Join(tree, p)); err != nil || fi.Mode() != want {
				t.Errorf("umask %03o: %s: %v %v, want %v", mask, p, fi.Mode(), err, want)
			}
		}
	}
}

// FuzzAssembleDebs: a package's data.tar is whatever its repository
// serves. Assembling must never panic nor create or change anything
// outside the tree, wherever the archive's symlinks point.
func FuzzAssembleDebs(f *testing.F) {
	testutil.RequireRoot(f)
	host := f.TempDir()
	outside := filepath.Join(host, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		f.Fatal(err)
	}
	type T = testutil.TarEntry
	for _, seed := range [][]T{
		{{Name: "./etc", Type: tar.TypeSymlink, Link: outside}},
		{{Name: "./etc", Type: tar.TypeSymlink, Link: "../../../../.." + outside}},
		{{Name: "./usr/share/base-passwd/passwd.master", Type: tar.TypeSymlink, Link: "/etc/shadow"}},
		{{Name: "./usr/share/base-passwd", Type: tar.TypeSymlink, Link: "/etc"}},
		{{Name: "./root", Type: tar.TypeSymlink, Link: outside}, {Name: "./tmp", Type: tar.TypeSymlink, Link: outside}},
		{{Name: "./etc/", Type: tar.TypeDir}, {Name: "./etc/passwd", Type: tar.TypeLink, Link: "/etc/passwd"}},
		{{Name: "./bin/sh", Body: "#!"}, {Name: "./lib/x", Type: tar.TypeSymlink, Link: outside}},
	} {
		f.Add(testutil.Tar(f, seed...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		tree := filepath.Join(parent, "tree")
		if err := os.Mkdir(tree, 0o755); err != nil {
			t.Fatal(err)
		}
		assembleCrafted(t, tree, data)
		emptyDir(t, outside)
		ents, _ := os.ReadDir(parent)
		if len(ents) != 1 {
			t.Errorf("assembling wrote next to the tree: %v", ents)
		}
	})
}
