package cache

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/store"
)

// hostile serves an OCI layout directory as registry repository "c", tag
// "t", and can make any answer endless: what it names (the index, or a
// blob) is followed by garbage for as long as the client reads.
type hostile struct {
	dir     string
	endless atomic.Value // string: "index", a blob digest, or ""
	sent    atomic.Int64 // bytes of garbage written
}

func (h *hostile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p, what string
	switch {
	case r.URL.Path == "/v2/":
		return
	case r.URL.Path == "/v2/c/manifests/t":
		p, what = filepath.Join(h.dir, "index.json"), "index"
	case strings.HasPrefix(r.URL.Path, "/v2/c/manifests/sha256:"), strings.HasPrefix(r.URL.Path, "/v2/c/blobs/sha256:"):
		what = r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		p = filepath.Join(h.dir, "blobs", "sha256", strings.TrimPrefix(what, "sha256:"))
	default:
		http.NotFound(w, r)
		return
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(raw)
	if h.endless.Load() != what {
		return
	}
	junk := bytes.Repeat([]byte(" "), 1<<16)
	// 1 GiB at most, so that a test of unbounded code ends, and fails.
	for i := 0; i < 1<<14; i++ {
		if _, err := w.Write(junk); err != nil {
			return
		}
		h.sent.Add(int64(len(junk)))
	}
}

// TestHostileRegistryIsBounded: a registry that answers without end (an
// endless index, a blob longer than its entry says) is refused after at
// most the cap or the signed size, not read until memory or disk run out.
func TestHostileRegistryIsBounded(t *testing.T) {
	ctx := context.Background()
	a := openStore(t)
	l := addLayer(t, a, "content")
	top := digest.FromString("top")
	keys := t.TempDir()
	priv, pub, _ := Keygen(keys, "ci")
	dir := filepath.Join(t.TempDir(), "cache")
	if _, err := Export(ctx, a, Spec{Type: "local", Dir: dir, Key: priv}, []Entry{{Keys: []digest.Digest{top}, Output: store.Output{Layers: []digest.Digest{l}}}}); err != nil {
		t.Fatal(err)
	}
	lr, _, _ := a.GetMeta(metaNamespace, string(l))
	i := bytes.Index(lr, []byte(`"blob":"`))
	layerBlob := string(lr[i+8 : i+8+71])

	h := &hostile{dir: dir}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/c:t"
	spec := Spec{Type: "registry", Ref: ref, Trusted: []string{pub}}

	substitute := func() (bool, []string) {
		t.Helper()
		var warnings []string
		im, err := NewImporter([]Spec{spec}, func(s string) { warnings = append(warnings, s) })
		if err != nil {
			t.Fatal(err)
		}
		_, ok := im.Substitute(ctx, openStore(t), top)
		return ok, warnings
	}

	h.endless.Store("")
	if ok, warnings := substitute(); !ok {
		t.Fatalf("the honest registry's entry was not used: %q", warnings)
	}

	for _, c := range []struct{ endless, want string }{
		{"index", "more than a cache's manifest may have"},
		{layerBlob, "its entry says"},
	} {
		h.endless.Store(c.endless)
		h.sent.Store(0)
		ok, warnings := substitute()
		if ok || len(warnings) != 1 || !strings.Contains(warnings[0], c.want) {
			t.Errorf("endless %s: used %v, warnings %q (want one saying %q)", c.endless, ok, warnings, c.want)
		}
		// What the server wrote before the client hung up, buffers
		// included: far below the 1 GiB the server would send.
		if n := h.sent.Load(); n > maxIndexSize+16<<20 {
			t.Errorf("endless %s: %d bytes were read", c.endless, n)
		}
	}
}
