package debian

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// signedRelease makes a keyring and a clear-signed Release text with gpg,
// or skips the test when gpg or gpgv is missing.
func signedRelease(t *testing.T, text string) (keyring string, inRelease []byte) {
	t.Helper()
	return testutil.SignedRelease(t, text)
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
			url := testutil.ServeFiles(t, map[string][]byte{"/dists/bookworm/InRelease": body})
			r := &Repo{URI: url, Suite: "bookworm", Arch: "amd64", Keyrings: []string{keyring}}
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
		url := testutil.ServeFiles(t, map[string][]byte{"/dists/bookworm/InRelease": body})
		r := &Repo{URI: url, Suite: "bookworm", Arch: "amd64", Keyrings: []string{keyring}}
		if _, err := r.Release(context.Background()); err == nil || !strings.Contains(err.Error(), "checking the signature") {
			t.Fatalf("a tampered InRelease gave %v, want a signature error", err)
		}
	})
}

// apt's own keyrings are armored (.asc), which gpgv 2.2 cannot read: an
// armored keyring must check a Release file like its binary form.
func TestReleaseWithArmoredKeyring(t *testing.T) {
	good := "Suite: bookworm\nSHA256:\n " + strings.Repeat("a", 64) + " 1 main/binary-amd64/Packages\n"
	keyring, signed := signedRelease(t, good)
	home := t.TempDir()
	armored, err := exec.Command("gpg", "--batch", "--quiet", "--homedir", home, "--enarmor", "--output", "-", keyring).Output()
	if err != nil {
		t.Skipf("gpg --enarmor: %v", err)
	}
	asc := filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(asc, armored, 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(keyring)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dearmor(armored); err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("dearmor gave %d bytes (%v), want the %d of the binary keyring", len(got), err, len(bin))
	}
	url := testutil.ServeFiles(t, map[string][]byte{"/dists/bookworm/InRelease": signed})
	r := &Repo{URI: url, Suite: "bookworm", Arch: "amd64", Keyrings: []string{asc}}
	if _, err := r.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The machine's own apt lists are signed by Debian: apt's trusted
// keyrings, armored as Debian ships them, must accept them and refuse a
// changed byte.
func TestDebianReleaseAgainstAptKeyrings(t *testing.T) {
	if _, err := exec.LookPath("gpgv"); err != nil {
		t.Skip("gpgv is not installed")
	}
	lists, _ := filepath.Glob("/var/lib/apt/lists/*_dists_bookworm_InRelease")
	keyrings := TrustedKeyrings("/")
	if len(lists) == 0 || len(keyrings) == 0 {
		t.Skip("no apt lists or no trusted keyrings on this machine")
	}
	raw, err := os.ReadFile(lists[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gpgv(context.Background(), keyrings, raw); err != nil {
		t.Fatalf("%s against %v: %v", lists[0], keyrings, err)
	}
	i := bytes.Index(raw, []byte("SHA256:"))
	if i < 0 {
		t.Fatal("no SHA256 field")
	}
	bad := bytes.Clone(raw)
	bad[i+100] ^= 1
	if _, err := gpgv(context.Background(), keyrings, bad); err == nil {
		t.Fatal("a changed InRelease passed gpgv")
	}
}
