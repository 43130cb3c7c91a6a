package testutil

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TarEntry is one entry of a tar written by Tar: a regular file unless Type
// says otherwise.
type TarEntry struct {
	Name, Link string
	Type       byte
	Body       string
	Mode       int64
}

// Tar writes entries as they are, in order, without the checks and
// normalisation tar(1) or dpkg-deb would apply: tests use it to ship what a
// hostile archive would.
func Tar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: typ, Mode: e.Mode, Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
			if typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Deb wraps a data archive into a .deb by hand (an ar archive of
// debian-binary, control.tar.gz and dataName holding data), so that tests
// can build packages dpkg-deb would refuse. dataName is "data.tar",
// "data.tar.gz", ... and data must already be compressed to match it.
func Deb(t testing.TB, pkg, version, arch, dataName string, data []byte) []byte {
	t.Helper()
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: kiln <kiln@localhost>\nDescription: test\n", pkg, version, arch)
	var ctl bytes.Buffer
	zw := gzip.NewWriter(&ctl)
	zw.Write(Tar(t, TarEntry{Name: "./control", Body: control}))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		body []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", ctl.Bytes()}, {dataName, data}} {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.body))
		b.Write(m.body)
		if len(m.body)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// DebPackage is one package of a repository served by ServeDebRepo.
type DebPackage struct {
	Name, Version string
	Deb           []byte
	// Depends is the stanza's Depends field ("" for none).
	Depends string
}

// ServeDebRepo serves a Debian-format repository on 127.0.0.1 for suite
// and arch (component main) holding pkgs, its InRelease signed with a
// throw-away ed25519 key made here. It returns the repository's URL and
// the keyring (binary, for signed_by) that checks it. The server and the
// gpg agent stop when the test ends. Tests without gpg are skipped.
func ServeDebRepo(t testing.TB, suite, arch string, pkgs []DebPackage) (url, keyring string) {
	t.Helper()
	r := NewDebRepo(t, arch)
	r.Publish(t, suite, "", pkgs)
	return r.URL, r.Keyring
}

// DebRepo is a Debian-format repository on 127.0.0.1 whose suites can be
// published, and published again, while it serves: all of them signed with
// one throw-away key of its own.
type DebRepo struct {
	URL, Keyring string
	arch         string
	sign         func(string) []byte
	mu           sync.Mutex
	files        map[string][]byte
}

// NewDebRepo starts an empty repository for arch; it stops when the test
// ends. Tests without gpg are skipped.
func NewDebRepo(t testing.TB, arch string) *DebRepo {
	t.Helper()
	r := &DebRepo{arch: arch, files: map[string][]byte{}}
	r.Keyring, r.sign = signer(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		b, ok := r.files[req.URL.Path]
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Publish replaces suite's index with pkgs (component main), their .debs
// in the pool, and signs a new InRelease; release adds fields to the
// Release paragraph ("NotAutomatic: yes\n").
func (r *DebRepo) Publish(t testing.TB, suite, release string, pkgs []DebPackage) {
	t.Helper()
	var index strings.Builder
	sorted := append([]DebPackage(nil), pkgs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	files := map[string][]byte{}
	for _, p := range sorted {
		fn := fmt.Sprintf("pool/main/%s_%s_%s.deb", p.Name, p.Version, r.arch)
		files["/"+fn] = p.Deb
		fmt.Fprintf(&index, "Package: %s\nVersion: %s\nArchitecture: %s\nFilename: %s\nSize: %d\nSHA256: %s\n",
			p.Name, p.Version, r.arch, fn, len(p.Deb), sum(p.Deb))
		if p.Depends != "" {
			fmt.Fprintf(&index, "Depends: %s\n", p.Depends)
		}
		index.WriteString("Description: test\n\n")
	}
	pkgPath := "main/binary-" + r.arch + "/Packages"
	files["/dists/"+suite+"/"+pkgPath] = []byte(index.String())
	text := fmt.Sprintf("Suite: %s\nCodename: %s\nArchitectures: %s\nComponents: main\n%sSHA256:\n %s %d %s\n",
		suite, suite, r.arch, release, sum([]byte(index.String())), index.Len(), pkgPath)
	files["/dists/"+suite+"/InRelease"] = r.sign(text)
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range files {
		r.files[k] = v
	}
}

// ServeFiles serves files, keyed by URL path, on 127.0.0.1 until the test
// ends, and returns the server's URL.
func ServeFiles(t testing.TB, files map[string][]byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// SignedRelease clear-signs a Release text with a throw-away ed25519 key
// made here, and returns the binary keyring (for signed_by or gpgv) that
// checks it. The gpg agent it starts stops when the test ends. Tests
// without gpg are skipped (scripts/deps.sh installs it).
func SignedRelease(t testing.TB, text string) (keyring string, inRelease []byte) {
	t.Helper()
	keyring, sign := signer(t)
	return keyring, sign(text)
}

// signer makes a throw-away ed25519 key and returns the binary keyring
// that checks its signatures and a function clear-signing with it.
func signer(t testing.TB) (keyring string, sign func(string) []byte) {
	t.Helper()
	for _, tool := range []string{"gpg", "gpgv", "gpgconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir, err := os.MkdirTemp("", "kiln-gpg-")
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "gnupg")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The agent gpg started for this home, and nothing else.
		exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		os.RemoveAll(dir)
	})
	gpg := func(stdin string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("gpg", append([]string{"--batch", "--quiet", "--homedir", home}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v: %s", args, err, stderr.String())
		}
		return out
	}
	gpg("", "--passphrase", "", "--quick-gen-key", "kiln-test@example.invalid", "ed25519", "sign", "never")
	keyring = filepath.Join(dir, "keyring.gpg")
	if err := os.WriteFile(keyring, gpg("", "--export"), 0o644); err != nil {
		t.Fatal(err)
	}
	return keyring, func(text string) []byte { return gpg(text, "--clearsign") }
}
