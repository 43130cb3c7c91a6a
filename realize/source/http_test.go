package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func srcSha256Pin(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func srcAssertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		var n []string
		for _, e := range names {
			n = append(n, e.Name())
		}
		t.Errorf("%s should be empty, holds %q", dir, n)
	}
}

func srcNewFileServer(t *testing.T, body []byte) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/file.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchHTTP(t *testing.T) {
	t.Parallel()
	body := []byte(strings.Repeat("kiln http source\n", 10000))
	srv := srcNewFileServer(t, body)
	url := srv.URL + "/file.tar.gz"

	t.Run("success", func(t *testing.T) {
		t.Parallel()
		dest := t.TempDir()
		if err := FetchHTTP(context.Background(), url, srcSha256Pin(body), "src.tgz", 0o755, dest, 0); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dest, "src.tgz"))
		if err != nil || string(got) != string(body) {
			t.Fatalf("content differs (%d bytes, %v)", len(got), err)
		}
		fi, _ := os.Stat(filepath.Join(dest, "src.tgz"))
		if fi.Mode() != 0o755 {
			t.Errorf("mode %v, want 0755", fi.Mode())
		}
		if names, _ := os.ReadDir(dest); len(names) != 1 {
			t.Errorf("destination holds %d entries, want only the file", len(names))
		}
	})
	t.Run("default mode", func(t *testing.T) {
		t.Parallel()
		dest := t.TempDir()
		if err := FetchHTTP(context.Background(), url, srcSha256Pin(body), "f", 0, dest, 0); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(filepath.Join(dest, "f"))
		if fi.Mode() != 0o644 {
			t.Errorf("mode %v, want 0644", fi.Mode())
		}
	})
	t.Run("wrong pin", func(t *testing.T) {
		t.Parallel()
		dest := t.TempDir()
		wrong := srcSha256Pin([]byte("something else"))
		err := FetchHTTP(context.Background(), url, wrong, "f", 0, dest, 0)
		if err == nil {
			t.Fatal("no error")
		}
		t.Log(err)
		for _, want := range []string{wrong, srcSha256Pin(body), url, "mismatch"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if !IsPinError(err) {
			t.Error("a hash mismatch does not point at the lock")
		}
		srcAssertEmptyDir(t, dest)
	})
	t.Run("404", func(t *testing.T) {
		t.Parallel()
		dest := t.TempDir()
		err := FetchHTTP(context.Background(), srv.URL+"/missing", srcSha256Pin(body), "f", 0, dest, 0)
		if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), srv.URL+"/missing") {
			t.Errorf("error %v should give the status and the URL", err)
		}
		srcAssertEmptyDir(t, dest)
	})
	t.Run("credentials are not shown", func(t *testing.T) {
		t.Parallel()
		dest := t.TempDir()
		u := strings.Replace(srv.URL, "http://", "http://user:s3cret@", 1) + "/missing"
		err := FetchHTTP(context.Background(), u, srcSha256Pin(body), "f", 0, dest, 0)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %v shows the password", err)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		t.Parallel()
		dest := t.TempDir()
		for _, c := range []struct{ url, pin, name, want string }{
			{url, "sha1:abc", "f", "pin"},
			{url, "sha256:" + strings.Repeat("A", 64), "f", "pin"},
			{url, srcSha256Pin(body), "../f", "file name"},
			{url, srcSha256Pin(body), "", "file name"},
			{"ftp://127.0.0.1/x", srcSha256Pin(body), "f", "scheme"},
		} {
			err := FetchHTTP(context.Background(), c.url, c.pin, c.name, 0, dest, 0)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%q %q %q: error %v, want one about %s", c.url, c.pin, c.name, err, c.want)
			}
		}
		if err := FetchHTTP(context.Background(), url, srcSha256Pin(body), "f", 0o10000, dest, 0); err == nil {
			t.Error("mode beyond 07777: no error")
		}
		srcAssertEmptyDir(t, dest)
	})
}

func TestFetchHTTPConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dest := t.TempDir()
	url := "http://" + addr + "/f"
	err = FetchHTTP(context.Background(), url, srcSha256Pin(nil), "f", 0, dest, 0)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %v should name the URL and say the connection was refused", err)
	}
	srcAssertEmptyDir(t, dest)
}

// TestFetchHTTPStalled serves half a body and then nothing: the download
// must give up after the stall timeout rather than hang, and leave nothing.
func TestFetchHTTPStalled(t *testing.T) {
	old := httpStallTimeout
	httpStallTimeout = 200 * time.Millisecond
	defer func() { httpStallTimeout = old }()

	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write(make([]byte, 50))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	dest := t.TempDir()
	start := time.Now()
	err := FetchHTTP(context.Background(), srv.URL+"/slow", srcSha256Pin(nil), "f", 0, dest, 0)
	if !errors.Is(err, errHTTPStalled) {
		t.Fatalf("error %v, want a stall", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to notice the stall", d)
	}
	srcAssertEmptyDir(t, dest)
}

func TestFetchHTTPCanceled(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	dest := t.TempDir()
	err := FetchHTTP(ctx, srv.URL, srcSha256Pin(nil), "f", 0, dest, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the context's deadline", err)
	}
	srcAssertEmptyDir(t, dest)
}
