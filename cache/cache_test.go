package cache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		export bool
		want   Spec
		err    string
	}{
		{in: "type=registry,ref=r.example/c:main,mode=max,key=ci.key", export: true, want: Spec{Type: "registry", Ref: "r.example/c:main", Max: true, Key: "ci.key"}},
		{in: "type=local,dest=/c", export: true, want: Spec{Type: "local", Dir: "/c"}},
		{in: "type=registry,ref=r/c:t,trusted=a.pub,trusted=b.pub,required=true,timeout=2s", want: Spec{Type: "registry", Ref: "r/c:t", Trusted: []string{"a.pub", "b.pub"}, Required: true, Timeout: 2e9}},
		{in: "type=local,src=/c,insecure=true", want: Spec{Type: "local", Dir: "/c", Insecure: true}},
		{in: "type=local,src=/c", err: "trusted=PUBFILE"},
		{in: "type=local,dest=/c", err: `unknown key "dest"`},
		{in: "type=registry,ref=r/c:t,key=k", err: `unknown key "key"`},
		{in: "type=registry", export: true, err: "needs ref="},
		{in: "type=s3,ref=x", export: true, err: "unknown type"},
		{in: "ref=x", export: true, err: "missing type"},
		{in: "type=local,dest=/c,mode=all", export: true, err: "mode is min or max"},
		{in: "type=local,src=/c,insecure=maybe", err: "true or false"},
		{in: "type=local,src=/c,insecure=true,timeout=-1s", err: "timeout is a duration"},
		{in: "type=local,dest", export: true, err: "not KEY=VALUE"},
	} {
		var got Spec
		var err error
		if tc.export {
			got, err = ParseTo(tc.in)
		} else {
			got, err = ParseFrom(tc.in)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
		} else if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, diff)
		}
	}
	if got := ParseList("type=local,src=/a; type=local,src=/b\n"); len(got) != 2 || got[1] != "type=local,src=/b" {
		t.Errorf("ParseList: %q", got)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, pub, err := Keygen(dir, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Keygen(dir, "ci"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("Keygen over an existing key: %v", err)
	}
	if fi, err := os.Stat(priv); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v %v", fi, err)
	}
	sk, err := LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPublicKey(priv); err == nil {
		t.Error("a private key file loaded as a public one")
	}
	_, otherPub, _ := Keygen(dir, "other")
	other, _ := LoadPublicKey(otherPub)
	config := []byte(`{"keys":["sha256:00"]}`)
	sig := sk.sign(config)
	if sk.ID() != pk.ID() || !strings.HasPrefix(pk.ID(), "ci:") {
		t.Errorf("key ids %s, %s", sk.ID(), pk.ID())
	}
	if err := verify([]PublicKey{other, pk}, pk.ID(), sig, config); err != nil {
		t.Errorf("a good signature: %v", err)
	}
	if err := verify([]PublicKey{pk}, pk.ID(), sig, append(config, ' ')); err == nil || errors.Is(err, errUntrusted) {
		t.Errorf("an altered config: %v", err)
	}
	if err := verify([]PublicKey{other}, pk.ID(), sig, config); !errors.Is(err, errUntrusted) {
		t.Errorf("a foreign key: %v", err)
	}
	if err := verify([]PublicKey{pk}, "", "", config); !errors.Is(err, errUntrusted) {
		t.Errorf("unsigned: %v", err)
	}
}

func desc(d string, keys ...string) ocispec.Descriptor {
	return ocispec.Descriptor{Digest: digest.FromString(d), Annotations: map[string]string{AnnotationKeys: strings.Join(keys, " ")}}
}

func TestIndexAdd(t *testing.T) {
	t.Parallel()
	k1, k2, k3 := string(digest.FromString("1")), string(digest.FromString("2")), string(digest.FromString("3"))
	ix := newIndex()
	ix.add(desc("a", k1, k2))
	ix.add(desc("b", k3))
	ix.add(desc("c", k1)) // answers only part of a's keys: a stays
	if d, _ := ix.lookup(digest.Digest(k1)); d.Digest != digest.FromString("c") {
		t.Errorf("k1 -> %s, want the newest entry", d.Digest)
	}
	if d, _ := ix.lookup(digest.Digest(k2)); d.Digest != digest.FromString("a") {
		t.Errorf("k2 -> %s, want a", d.Digest)
	}
	ix.add(desc("d", k1, k2)) // replaces a and c
	raw, _ := ix.encode()
	back, err := parseIndex(raw)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(back.m.Manifests); n != 2 || !back.has(digest.FromString("d")) || !back.has(digest.FromString("b")) {
		t.Errorf("after replacing: %d entries %+v", n, back.m.Manifests)
	}
}

// addLayer puts a one-file layer into st.
func addLayer(t *testing.T, st *store.Store, content string) digest.Digest {
	t.Helper()
	dir, err := st.TempDir("layer-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := layer.Normalize(dir, 0); err != nil {
		t.Fatal(err)
	}
	d, size, err := layer.Hash(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddLayer(dir, d, store.LayerInfo{Size: size}); err != nil {
		t.Fatal(err)
	}
	return d
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestLocalRoundTrip exports an output with its chain to a directory and
// imports it into another store; then alters a blob and sees it refused.
func TestLocalRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := openStore(t)
	l1, l2 := addLayer(t, a, "bottom"), addLayer(t, a, "top")
	blob, _, err := a.AddBlob(bytes.NewReader([]byte("config")), "")
	if err != nil {
		t.Fatal(err)
	}
	top, below := digest.FromString("top"), digest.FromString("below")
	out := store.Output{Layers: []digest.Digest{l1, l2}, Blobs: []digest.Digest{blob}, Meta: map[string]string{"k": "v", "origin": "remote"}}
	base := store.Output{Layers: []digest.Digest{l1}, Blobs: []digest.Digest{blob}}
	keys := t.TempDir()
	priv, pub, _ := Keygen(keys, "ci")
	dir := filepath.Join(t.TempDir(), "cache")
	entries := []Entry{{Keys: []digest.Digest{top, digest.FromString("rk")}, Output: out, Chain: map[digest.Digest]store.Output{below: base}}}
	rep, err := Export(ctx, a, Spec{Type: "local", Dir: dir, Key: priv}, entries)
	if err != nil || rep.Entries != 1 {
		t.Fatalf("export: %+v %v", rep, err)
	}
	if rep, err := Export(ctx, a, Spec{Type: "local", Dir: dir, Key: priv}, entries); err != nil || rep.Skipped != 1 {
		t.Errorf("second export: %+v %v", rep, err)
	}

	var warnings []string
	im, err := NewImporter([]Spec{{Type: "local", Dir: dir, Trusted: []string{pub}}}, func(s string) { warnings = append(warnings, s) })
	if err != nil {
		t.Fatal(err)
	}
	b := openStore(t)
	if !im.Has(ctx, top) || !im.Has(ctx, digest.FromString("rk")) || im.Has(ctx, below) {
		t.Error("Has answers other keys than the entry's")
	}
	got, ok := im.Substitute(ctx, b, top)
	if !ok {
		t.Fatalf("Substitute failed: %q", warnings)
	}
	if diff := cmp.Diff(out.Layers, got.Layers); diff != "" || got.Meta["k"] != "v" || got.Meta["origin"] != "" {
		t.Errorf("imported output %+v (layers -want +got %s)", got, diff)
	}
	if chained, ok, _ := b.Lookup(below); !ok || chained.Meta["origin"] != "remote" || len(chained.Layers) != 1 {
		t.Errorf("the chain was not recorded: %+v %v", chained, ok)
	}
	for _, l := range out.Layers {
		if ok, _ := b.HasLayer(l); !ok {
			t.Errorf("layer %s not imported", l)
		}
	}

	// A layer blob altered on disk is refused, with a warning.
	lr, _, _ := a.GetMeta(metaNamespace, blobKey(l2))
	var blobDigest string
	if i := bytes.Index(lr, []byte(`"blob":"`)); i >= 0 {
		blobDigest = string(lr[i+8 : i+8+71])
	}
	p := filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(blobDigest, "sha256:"))
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-10] ^= 0xff
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	warnings = nil
	c := openStore(t)
	im, _ = NewImporter([]Spec{{Type: "local", Dir: dir, Trusted: []string{pub}}}, func(s string) { warnings = append(warnings, s) })
	if _, ok := im.Substitute(ctx, c, top); ok || len(warnings) != 1 || !strings.Contains(warnings[0], "refusing") {
		t.Errorf("an altered blob: ok %v, warnings %q", ok, warnings)
	}
	if ok, _ := c.HasLayer(l2); ok {
		t.Error("the altered layer entered the store")
	}
}
