package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/store"
)

// hostile serves an OCI layout directory as registry repository "c", tag
// "t", and can make any answer endless: what it names (the index, or a
// blob) is followed by garbage for as long as the client reads.
type hostile struct {
	dir     string
	endless atomic.Value // string: "index", a blob digest, or ""
	stall   atomic.Value // string: a blob digest whose body stops halfway
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
	if h.stall.Load() == what {
		w.Header().Set("Content-Length", fmt.Sprint(len(raw)))
		w.Write(raw[:len(raw)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
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
	lr, _, _ := a.GetMeta(metaNamespace, blobKey(l))
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
	h.stall.Store("")
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

	// A body that stops halfway is given up after the timeout.
	h.endless.Store("")
	h.stall.Store(layerBlob)
	spec.Timeout = 300 * time.Millisecond
	start := time.Now()
	ok, warnings := substitute()
	if ok || len(warnings) != 1 || !strings.Contains(warnings[0], "did not answer in time") {
		t.Errorf("a stalled blob: used %v, warnings %q", ok, warnings)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("a stalled blob was waited for %s", el)
	}
}

// slowPush is a backend whose blob uploads take a while: an export that
// pushes much, racing one that pushes little.
type slowPush struct {
	backend
	delay time.Duration
}

func (s slowPush) putBlob(ctx context.Context, d digest.Digest, size int64, open func() (io.ReadCloser, error)) error {
	time.Sleep(s.delay)
	return s.backend.putBlob(ctx, d, size, open)
}

// TestConcurrentExportsKeepEntries: an export that pushes for a long time
// read the index when it began; had it written that old index back, the
// entries a quick export wrote meanwhile would be gone.
func TestConcurrentExportsKeepEntries(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	dir := filepath.Join(t.TempDir(), "cache")
	slow, fast := digest.FromString("slow"), digest.FromString("fast")
	entry := func(k digest.Digest, content string) []Entry {
		return []Entry{{Keys: []digest.Digest{k}, Output: store.Output{Layers: []digest.Digest{addLayer(t, st, content)}}}}
	}
	slowEntries, fastEntries := entry(slow, "slow"), entry(fast, "fast")
	defer func(o func(Spec) (backend, error)) { openExport = o }(openExport)
	openExport = func(s Spec) (backend, error) {
		be, err := open(s)
		if s.Timeout == time.Nanosecond { // the slow one
			return slowPush{be, 700 * time.Millisecond}, err
		}
		return be, err
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []struct {
		marker  time.Duration
		entries []Entry
	}{{time.Nanosecond, slowEntries}, {0, fastEntries}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Export(ctx, st, Spec{Type: "local", Dir: dir, Timeout: c.marker}, c.entries)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ix, err := readIndex(ctx, &localBackend{dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []digest.Digest{slow, fast} {
		if _, ok := ix.lookup(k); !ok {
			t.Errorf("the entry for %s is gone from the index", k)
		}
	}
}

// deafRegistry accepts a blob upload and never reads its body, as a
// registry that hangs mid-upload: nothing is in the repository, every
// upload starts, and every PATCH or PUT of data waits until the client
// gives up.
type deafRegistry struct {
	uploads atomic.Int32  // data requests that were left unread
	stop    chan struct{} // closed at the end of the test
}

func (h *deafRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/v2/":
	case r.Method == http.MethodPost && r.URL.Path == "/v2/c/blobs/uploads/":
		w.Header().Set("Location", "/v2/c/blobs/uploads/u1")
		w.WriteHeader(http.StatusAccepted)
	case (r.Method == http.MethodPatch || r.Method == http.MethodPut) && r.URL.Path == "/v2/c/blobs/uploads/u1":
		h.uploads.Add(1)
		// The server notices no hang-up while the body is unread.
		<-h.stop
	default:
		http.NotFound(w, r)
	}
}

// TestStalledUploadIsBounded: a registry that stops reading a blob being
// pushed makes the export fail after the cache's timeout, with the words
// used for a stalled download, instead of hanging the command.
func TestStalledUploadIsBounded(t *testing.T) {
	st := openStore(t)
	// More than the kernel buffers on both ends hold, so that the client
	// itself is held up rather than its body sitting in buffers.
	big := make([]byte, 12<<20)
	rand.NewChaCha8([32]byte{1}).Read(big)
	l := addLayer(t, st, string(big))
	h := &deafRegistry{stop: make(chan struct{})}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer close(h.stop)
	spec := Spec{Type: "registry", Ref: strings.TrimPrefix(srv.URL, "http://") + "/c:t", Timeout: 300 * time.Millisecond}
	res := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := Export(context.Background(), st, spec, []Entry{{Keys: []digest.Digest{digest.FromString("top")}, Output: store.Output{Layers: []digest.Digest{l}}}})
		res <- err
	}()
	select {
	case err := <-res:
		t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
		if h.uploads.Load() == 0 {
			t.Fatalf("the export did not upload anything: %v", err)
		}
		if err == nil || !strings.Contains(Explain(err), "the registry did not answer in time (if it is only slow, raise timeout=)") || !strings.Contains(err.Error(), "the registry took no data for 300ms") {
			t.Errorf("a stalled upload: %v (explained: %s), want it to say the registry took no data and did not answer in time", err, Explain(err))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the export still waits for a registry that stopped reading after 30s")
	}
}
