package cache

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// FuzzParseSpec: a --cache-from or --cache-to value is either a spec or
// an error, never a panic.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"type=registry,ref=127.0.0.1:5000/cache:main,trusted=ci.pub",
		"type=registry,ref=r/c,mode=max,key=ci.key,required=true,timeout=2s",
		"type=local,src=/tmp/c,insecure=true",
		"type=local,dest=dir", "type=", "ref", "type=registry,,", "=,=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		_, _ = ParseFrom(v)
		_, _ = ParseTo(v)
		_ = ParseList(v)
	})
}

// FuzzParseIndex: a cache's index comes from a registry nobody here
// controls; whatever it holds is parsed or refused, and looking keys up
// in what parsed never panics.
func FuzzParseIndex(f *testing.F) {
	ix := newIndex()
	if raw, err := ix.encode(); err == nil {
		f.Add(raw)
	}
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:` + digest.FromString("a").Encoded() + `","size":1,"annotations":{"x":"y"}}]}`))
	f.Add([]byte(`{"manifests":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ix, err := parseIndex(raw)
		if err != nil {
			return
		}
		for _, d := range ix.m.Manifests {
			for _, k := range entryKeys(d) {
				ix.lookup(k)
			}
			ix.has(d.Digest)
		}
		ix.lookup(digest.FromString("a"))
		if _, err := ix.encode(); err != nil {
			t.Fatalf("a parsed index does not encode: %v", err)
		}
	})
}
