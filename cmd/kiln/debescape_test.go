package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

const debEscapeHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "deb" "evil" {
  packages     = ["%s"]
  suite        = "bookworm"
  architecture = "amd64"
  repository   = "%s"
  signed_by    = "%s"
}

stage "s" {
  from = source.deb.evil
}
`

// TestDebSourceStaysInTree: packages served by a signed repository on
// 127.0.0.1 ship symlinks towards the host. Assembling the deb source
// neither writes into the host directory /etc points at (the build fails:
// an /etc that resolves to nothing inside the image is not a Debian
// system) nor copies the host file passwd.master points at into the layer
// (the build succeeds: inside the image that path does not exist, so
// /etc/passwd is the root-only fallback, as a container would see it).
func TestDebSourceStaysInTree(t *testing.T) {
	testutil.RequireRoot(t) // unpacking sets owners
	host := t.TempDir()
	outside := filepath.Join(host, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(host, "secret.master")
	const secret = "host-secret:x:0:0:do not copy me:/:/bin/sh\n"
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	type T = testutil.TarEntry
	deb := func(name string, entries ...T) testutil.DebPackage {
		return testutil.DebPackage{Name: name, Version: "1.0", Deb: testutil.Deb(t, name, "1.0", "amd64", "data.tar", testutil.Tar(t, entries...))}
	}
	url, keyring := testutil.ServeDebRepo(t, "bookworm", "amd64", []testutil.DebPackage{
		deb("evil-etc", T{Name: "./etc", Type: tar.TypeSymlink, Link: outside}),
		deb("evil-etc-relative", T{Name: "./etc", Type: tar.TypeSymlink, Link: "../../../../../../../.." + outside}),
		deb("evil-passwd",
			T{Name: "./usr/share/base-passwd/passwd.master", Type: tar.TypeSymlink, Link: secretFile},
			T{Name: "./usr/share/base-passwd/group.master", Type: tar.TypeSymlink, Link: "../../../../../../../.." + secretFile}),
	})

	for _, pkg := range []string{"evil-etc", "evil-etc-relative"} {
		t.Run(pkg, func(t *testing.T) {
			p := newProj(t, fmt.Sprintf(debEscapeHCL, pkg, url, keyring), "")
			p.ok("lock")
			_, e, code := p.run("build", "--progress", "plain", "stage.s")
			emptyHostDir(t, outside)
			if code != 1 || !strings.Contains(e, "source.deb.evil") || !strings.Contains(e, "/etc is a symlink to a missing directory") {
				t.Fatalf("kiln build: exit %d, want 1 and an error naming the source and its /etc:\n%s", code, e)
			}
			t.Log(e)
			// The verified .deb stays cached as a blob, as any download
			// does; no layer and no temporary tree may.
			for _, o := range storeObjects(t, p.store) {
				if strings.HasPrefix(o, "layers/") {
					t.Errorf("the failed build stored %s", o)
				}
			}
			if ents, _ := os.ReadDir(filepath.Join(p.store, "tmp")); len(ents) > 0 {
				t.Errorf("the failed build left %d temporary entries", len(ents))
			}
			p.verifyStore()
		})
	}

	t.Run("evil-passwd", func(t *testing.T) {
		p := newProj(t, fmt.Sprintf(debEscapeHCL, "evil-passwd", url, keyring), "")
		p.ok("lock")
		out := filepath.Join(t.TempDir(), "files.tar")
		p.ok("build", "--progress", "plain", "-o", "type=tar,dest="+out, "stage.s")
		files := tarFiles(t, out)
		for name, body := range files {
			if strings.Contains(body, "host-secret") {
				t.Errorf("%s in the built image holds the host file's contents", name)
			}
		}
		if got := files["etc/passwd"]; got != "root:x:0:0:root:/root:/bin/sh\n" {
			t.Errorf("etc/passwd = %q, want the root-only fallback", got)
		}
		if got := files["etc/group"]; got != "root:x:0:\n" {
			t.Errorf("etc/group = %q, want the root-only fallback", got)
		}
		emptyHostDir(t, outside)
	})
	if b, err := os.ReadFile(secretFile); err != nil || string(b) != secret {
		t.Errorf("the host file changed: %q, %v", b, err)
	}
}

func emptyHostDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("kiln wrote %s on the host", filepath.Join(dir, e.Name()))
	}
}

// tarFiles reads the regular files of a tar: name (without "./") -> body.
func tarFiles(t *testing.T, p string) map[string]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimPrefix(h.Name, "./")] = string(b)
		}
	}
}
