package sign

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pw(s string) PasswordFunc { return func() ([]byte, error) { return []byte(s), nil } }

func pemOf(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// TestParseKey: cosign's encrypted key (kiln's own GenerateKey writes the
// same format) with its password, plain PKCS #8 and SEC 1 keys, and the
// errors for everything else.
func TestParseKey(t *testing.T) {
	priv, pub, err := GenerateKey([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(priv, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")) {
		t.Fatalf("generated key is not cosign's format:\n%s", priv)
	}
	k, err := ParseKey(priv, pw("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.PublicPEM(), pub) {
		t.Errorf("public key of the loaded key differs from the generated one")
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, _ := x509.MarshalECPrivateKey(p256)
	pubDER, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	for _, c := range []struct {
		name string
		file []byte
		pw   PasswordFunc
		err  string
	}{
		{"pkcs8", pemOf(t, "PRIVATE KEY", pkcs8(p256)), nil, ""},
		{"sec1", pemOf(t, "EC PRIVATE KEY", sec1), nil, ""},
		{"cosign legacy type", bytes.Replace(priv, []byte("SIGSTORE"), []byte("COSIGN"), 2), pw("s3cret"), ""},
		{"wrong password", priv, pw("nope"), "decrypting the key failed (is COSIGN_PASSWORD the key's password?)"},
		{"no password", priv, nil, "set COSIGN_PASSWORD"},
		{"password error", priv, func() ([]byte, error) { return nil, errors.New("no terminal") }, "no terminal"},
		{"p384", pemOf(t, "PRIVATE KEY", pkcs8(p384)), nil, "kiln signs with P-256 keys only"},
		{"rsa", pemOf(t, "PRIVATE KEY", pkcs8(rsaKey)), nil, "ECDSA P-256 keys only"},
		{"public key", pemOf(t, "PUBLIC KEY", pubDER), nil, `a PEM "PUBLIC KEY" block, not a private key`},
		{"not pem", []byte("hello"), nil, "not a PEM private key"},
		{"bad pkcs8", pemOf(t, "PRIVATE KEY", []byte{1, 2, 3}), nil, "parsing the PKCS #8 private key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseKey(c.file, c.pw)
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want one containing %q", err, c.err)
			}
		})
	}
}

// TestLoadKeyNamesFile: errors name the key file.
func TestLoadKeyNamesFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "k.pem")
	if _, err := LoadKey(f, nil); err == nil || !strings.Contains(err.Error(), f) {
		t.Fatalf("missing file: err = %v, want it to name %s", err, f)
	}
	os.WriteFile(f, []byte("junk"), 0o600)
	if _, err := LoadKey(f, nil); err == nil || !strings.Contains(err.Error(), f+": not a PEM") {
		t.Fatalf("junk file: err = %v", err)
	}
}

// TestKeyNeverPrintsPrivatePart: a key in a log or an error shows its
// fingerprint only.
func TestKeyNeverPrintsPrivatePart(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := &Key{priv: priv}
	d := priv.D.String()
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, d) || !strings.Contains(s, "SHA256:") {
			t.Errorf("key printed as %q", s)
		}
	}
}

// TestSignIsDeterministic: RFC 6979 signatures, so payloads, signatures
// and envelopes are the same bytes every time, and they verify.
func TestSignIsDeterministic(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := &Key{priv: priv}
	a, _ := k.Sign([]byte("payload"))
	b, _ := k.Sign([]byte("payload"))
	if !bytes.Equal(a, b) {
		t.Errorf("two signatures of one payload differ")
	}
	if !k.verify([]byte("payload"), a) || k.verify([]byte("payloaD"), a) {
		t.Errorf("signature does not verify, or verifies another payload")
	}
	st := []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)
	e1, _ := Envelope(st, k)
	e2, _ := Envelope(st, k)
	if !bytes.Equal(e1, e2) {
		t.Errorf("two envelopes of one statement differ:\n%s\n%s", e1, e2)
	}
}

// TestPAE: the DSSE specification's example.
func TestPAE(t *testing.T) {
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Errorf("PAE = %q, want %q", got, want)
	}
}

// TestSimpleSigningPayload: the bytes cosign signs for an image.
func TestSimpleSigningPayload(t *testing.T) {
	got := string(SimpleSigningPayload("127.0.0.1:5000/kiln/a", "sha256:abc"))
	want := `{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/kiln/a"},"image":{"docker-manifest-digest":"sha256:abc"},"type":"cosign container image signature"},"optional":null}`
	if got != want {
		t.Errorf("payload:\n got %s\nwant %s", got, want)
	}
}

func TestCheckStatement(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	ok := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":%q}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`, strings.Repeat("a", 64))
	if pt, err := checkStatement([]byte(ok), d); err != nil || pt != "https://slsa.dev/provenance/v1" {
		t.Errorf("good statement: %q, %v", pt, err)
	}
	for _, c := range []struct{ st, err string }{
		{`[]`, "not an in-toto statement"},
		{`{"_type":"x"}`, `_type is "x"`},
		{`{"_type":"https://in-toto.io/Statement/v1","subject":[]}`, "no predicateType"},
		{`{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"digest":{"sha256":"bb"}}]}`, "no subject of the in-toto statement is " + d},
	} {
		if _, err := checkStatement([]byte(c.st), d); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: err = %v, want %q", c.st, err, c.err)
		}
	}
}
