package sign

import (
	"strings"
	"testing"
)

// FuzzParseKey: a key file is untrusted input; whatever it holds, parsing
// returns a key or an error, never panics, and an error never quotes the
// file.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnsibmFtZSI6InNjcnlwdCJ9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("not a key"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b, pw("x"))
		if err == nil && k == nil {
			t.Fatal("no key and no error")
		}
		if err != nil && len(b) > 16 && strings.Contains(err.Error(), string(b)) {
			t.Fatalf("error quotes the key file: %v", err)
		}
	})
}

// FuzzCheckStatement: an attestation file is untrusted input too.
func FuzzCheckStatement(f *testing.F) {
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"aa"}}],"predicateType":"p"}`))
	f.Add([]byte(`{"subject":[{"digest":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := checkStatement(b, "sha256:aa")
		if err == nil && pt == "" {
			t.Fatal("accepted a statement without a predicate type")
		}
	})
}
