package realize

import (
	"bytes"
	"strings"
	"testing"
)

// TestRedactorSplitWrites: a secret is redacted however the stream is cut
// into writes, including one byte at a time and a cut inside the value.
func TestRedactorSplitWrites(t *testing.T) {
	secret := "hunter2-s3cr3t\n"
	stream := "token: hunter2-s3cr3t\nagain hunter2-s3cr3t, and hunter2 alone, hunter2-s3cr3\n"
	want := "token: ***\nagain ***, and hunter2 alone, hunter2-s3cr3\n"
	for cut := 0; cut <= len(stream); cut++ {
		for _, step := range []int{1, 3, len(stream)} {
			var got bytes.Buffer
			r := newRedactor(&got, [][]byte{[]byte(secret)})
			r.Write([]byte(stream[:cut]))
			for i := cut; i < len(stream); i += step {
				r.Write([]byte(stream[i:min(i+step, len(stream))]))
			}
			if err := r.Flush(); err != nil {
				t.Fatal(err)
			}
			if got.String() != want {
				t.Fatalf("cut %d, step %d: got %q, want %q", cut, step, got.String(), want)
			}
		}
	}
}

// TestRedactorHoldsOnlyPrefixes: output that cannot begin a secret passes
// at once, so progress is not delayed; the beginning of one waits.
func TestRedactorHoldsOnlyPrefixes(t *testing.T) {
	var got bytes.Buffer
	r := newRedactor(&got, [][]byte{[]byte("hunter2-s3cr3t")})
	r.Write([]byte("waiting...\n"))
	if got.String() != "waiting...\n" {
		t.Fatalf("a line without a secret was held back: %q", got.String())
	}
	r.Write([]byte("x hunt"))
	if got.String() != "waiting...\nx " {
		t.Fatalf("got %q, want the possible secret held back", got.String())
	}
	r.Write([]byte("ing\n"))
	if got.String() != "waiting...\nx hunting\n" {
		t.Fatalf("got %q", got.String())
	}
	r.Write([]byte("ends with hunter2-s3"))
	r.Flush()
	if !strings.HasSuffix(got.String(), "ends with hunter2-s3") {
		t.Fatalf("Flush lost the held tail: %q", got.String())
	}
}

// TestRedactPatterns: each line of a multi-line value, the value without
// its trailing newline, and nothing shorter than MinRedactLen.
func TestRedactPatterns(t *testing.T) {
	got := redactPatterns([][]byte{[]byte("-----BEGIN KEY-----\nc2VjcmV0\n-----END KEY-----\n"), []byte("abc"), []byte("  \n"), []byte("abcd")})
	var s []string
	for _, p := range got {
		s = append(s, string(p))
	}
	want := []string{"-----BEGIN KEY-----\nc2VjcmV0\n-----END KEY-----", "-----BEGIN KEY-----", "-----END KEY-----", "c2VjcmV0", "abcd"}
	if strings.Join(s, "|") != strings.Join(want, "|") {
		t.Fatalf("patterns %q, want %q", s, want)
	}
	if newRedactor(&bytes.Buffer{}, [][]byte{[]byte("ab\n")}) != nil {
		t.Fatal("a value shorter than MinRedactLen got a redactor")
	}
}
