package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

// stallingRegistry takes blob uploads of up to 4 MiB and stops reading a
// larger one, as a registry that hangs mid-upload; it holds nothing, so
// every blob is uploaded.
type stallingRegistry struct {
	stalled atomic.Int32
	stop    chan struct{}
}

func (h *stallingRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const upload = "/v2/c/blobs/uploads/u1"
	switch {
	case r.URL.Path == "/v2/":
	case r.Method == http.MethodPost && r.URL.Path == "/v2/c/blobs/uploads/":
		w.Header().Set("Location", upload)
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPatch && r.URL.Path == upload:
		n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 4<<20+1))
		if n > 4<<20 {
			h.stalled.Add(1)
			<-h.stop // the server notices no hang-up while the body is unread
			return
		}
		w.Header().Set("Location", upload)
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPut && r.URL.Path == upload:
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/c/manifests/"):
		w.WriteHeader(http.StatusCreated)
	default:
		http.NotFound(w, r)
	}
}

// smallWindowListener keeps each connection's receive buffer small. With
// the kernel's own sizing, the socket buffers on both ends of a loopback
// connection could take most of the unread 8 MiB, so that the client
// finished sending and timed out waiting for an answer instead, which the
// test does not mean to test (it failed that way once under load).
type smallWindowListener struct{ net.Listener }

func (l smallWindowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetReadBuffer(64 << 10); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, err
}

// TestStalledPush: a registry that stops reading a layer being exported
// costs the build the cache's timeout, not its run: a warning and exit 0,
// or with required=true exit 1 after the build's outputs were made.
func TestStalledPush(t *testing.T) {
	testutil.RequireRoot(t)
	p := newProj(t, `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "big" {
  from = source.local.busybox
  run {
    shell = "head -c 12582912 /dev/urandom > /big"
  }
}
`, "")
	h := &stallingRegistry{stop: make(chan struct{})}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallWindowListener{srv.Listener}
	srv.Start()
	defer srv.Close()
	defer close(h.stop)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/c:t"
	p.ok("build", "--progress", "quiet", "stage.big")
	for _, c := range []struct {
		required string
		code     int
		want     string
	}{
		{"", 0, "exporting to cache " + ref},
		{",required=true", 1, "the build succeeded, but exporting to the required cache " + ref},
	} {
		start := time.Now()
		_, stderr, code := p.run("build", "--progress", "plain", "--cache-to", "type=registry,ref="+ref+",timeout=1s"+c.required, "stage.big")
		took := time.Since(start)
		t.Logf("required=%q: exit %d after %s:\n%s", c.required, code, took.Round(time.Millisecond), stderr)
		if code != c.code || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "the registry did not answer in time") || !strings.Contains(stderr, "the registry took no data for 1s") {
			t.Errorf("an export the registry stops reading (required=%q): exit %d, want %d saying %q and that the registry took no data", c.required, code, c.code, c.want)
		}
		if took > 30*time.Second {
			t.Errorf("it took %s", took)
		}
	}
	if h.stalled.Load() == 0 {
		t.Error("no upload stalled: the test tested nothing")
	}
}
