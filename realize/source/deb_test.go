package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
		err := FetchDebs(ctx, srv.Client(), srv.URL+"/debian", []DebPackage{bad}, cache, 2)
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
		err := FetchDebs(ctx, cut.Client(), cut.URL+"/debian", []DebPackage{pkg}, cache, 2)
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
		err := FetchDebs(ctx, srv.Client(), srv.URL+"/debian", []DebPackage{gone}, &memDebCache{m: map[string][]byte{}}, 2)
		if err == nil || !strings.Contains(err.Error(), "package kiln-test 1.0-1 is no longer in the repository") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("assemble", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("unpacking sets owners: needs root")
		}
		cache := &memDebCache{m: map[string][]byte{}}
		if err := FetchDebs(ctx, srv.Client(), srv.URL+"/debian", []DebPackage{pkg}, cache, 2); err != nil {
			t.Fatal(err)
		}
		tree := t.TempDir()
		if err := AssembleDebs([]DebPackage{pkg}, cache, tree); err != nil {
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
