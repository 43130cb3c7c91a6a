package debian

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// signedRelease makes a keyring and a clear-signed Release text with gpg,
// or skips the test when gpg or gpgv is missing.
func signedRelease(t *testing.T, text string) (keyring string, inRelease []byte) {
	t.Helper()
	for _, tool := range []string{"gpg", "gpgv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "gnupg")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	gpg := func(stdin string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("gpg", append([]string{"--batch", "--quiet", "--homedir", home}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("gpg %v: %v: %s", args, err, stderr.String())
		}
		return out
	}
	gpg("", "--passphrase", "", "--quick-gen-key", "kiln-test@example.invalid", "ed25519", "sign", "never")
	keyring = filepath.Join(dir, "keyring.gpg")
	if err := os.WriteFile(keyring, gpg("", "--export"), 0o644); err != nil {
		t.Fatal(err)
	}
	return keyring, gpg(text, "--clearsign")
}

func serveFiles(t *testing.T, files map[string][]byte) string {
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

// TestReleaseReadsOnlySignedText: gpgv accepts a file that has unsigned
// text before or after a valid signed message; Release must read the
// signed message, never the unsigned paragraph an attacker put first.
func TestReleaseReadsOnlySignedText(t *testing.T) {
	good := "Suite: bookworm\nSHA256:\n " + strings.Repeat("a", 64) + " 1 main/binary-amd64/Packages\n"
	keyring, signed := signedRelease(t, good)
	evil := "Suite: bookworm\nSHA256:\n " + strings.Repeat("e", 64) + " 666 main/binary-amd64/Packages\n\n"
	for name, body := range map[string][]byte{
		"plain":  signed,
		"before": append([]byte(evil), signed...),
		"after":  append(append([]byte(nil), signed...), "\n"+evil...),
	} {
		t.Run(name, func(t *testing.T) {
			url := serveFiles(t, map[string][]byte{"/dists/bookworm/InRelease": body})
			r := &Repo{URI: url, Suite: "bookworm", Arch: "amd64", Keyring: keyring}
			sums, err := r.Release(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := sums["main/binary-amd64/Packages"]
			if got.SHA256 != strings.Repeat("a", 64) || got.Size != 1 || len(sums) != 1 {
				t.Fatalf("Release read %v, want only the signed sum", sums)
			}
		})
	}
	t.Run("tampered", func(t *testing.T) {
		body := bytes.Replace(signed, []byte(" 1 main"), []byte(" 2 main"), 1)
		url := serveFiles(t, map[string][]byte{"/dists/bookworm/InRelease": body})
		r := &Repo{URI: url, Suite: "bookworm", Arch: "amd64", Keyring: keyring}
		if _, err := r.Release(context.Background()); err == nil || !strings.Contains(err.Error(), "checking the signature") {
			t.Fatalf("a tampered InRelease gave %v, want a signature error", err)
		}
	})
}
