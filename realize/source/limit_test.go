package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

// bombSize is the unpacked size of the test bombs, and bombLimit the
// max_size they are fetched with: a few KiB of compressed input each.
const (
	bombSize  = 8 << 20
	bombLimit = 1 << 20
)

func bombTar(t testing.TB) []byte {
	return testutil.Tar(t, testutil.TarEntry{Name: "zeros", Body: string(make([]byte, bombSize))})
}

func wantSizeLimit(t *testing.T, err error) {
	t.Helper()
	var sle *SizeLimitError
	if !errors.As(err, &sle) || sle.Limit != bombLimit {
		t.Fatalf("got %v, want a *SizeLimitError of %d", err, bombLimit)
	}
	if msg := sle.Error(); !strings.Contains(msg, "1m") || !strings.Contains(msg, `max_size = "2m"`) {
		t.Errorf("the message does not say the limit and how to raise it: %s", msg)
	}
}

func TestSizeBudgetReader(t *testing.T) {
	for _, n := range []int{0, 1, 4095, 4096} {
		b := newSizeBudget(4096)
		got, err := io.ReadAll(b.reader(bytes.NewReader(make([]byte, n))))
		if err != nil || len(got) != n {
			t.Errorf("%d bytes under a 4096 limit: %d, %v", n, len(got), err)
		}
	}
	b := newSizeBudget(4096)
	got, err := io.ReadAll(b.reader(io.MultiReader(bytes.NewReader(make([]byte, 3000)), bytes.NewReader(make([]byte, 3000)))))
	var sle *SizeLimitError
	if !errors.As(err, &sle) || len(got) != 4096 {
		t.Errorf("6000 bytes under a 4096 limit: %d bytes, %v", len(got), err)
	}
	if newSizeBudget(0).limit != DefaultMaxSize {
		t.Error("no limit is not the default")
	}
	for n, want := range map[int64]string{8 << 30: "8g", 3 << 20: "3m", 1536: "1536", 1 << 40: "1t"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestSizeLimitOCILayout: a gzip layer of a few KiB unpacking to 8 MiB
// stops at the limit, and the directories it used are removed.
func TestSizeLimitOCILayout(t *testing.T) {
	testutil.RequireRoot(t)
	dir, d := writeLayout(t, testImage(t, runtime.GOARCH, bombTar(t)), "bomb")
	newDir, made := newDirs(t)
	_, err := FetchOCILayout(context.Background(), dir, "bomb", d.String(), "", bombLimit, newDir)
	wantSizeLimit(t, err)
	for _, d := range *made {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s was left behind", d)
		}
	}
	if _, err := FetchOCILayout(context.Background(), dir, "bomb", d.String(), "", 2*bombSize, newDir); err != nil {
		t.Fatalf("under a larger limit: %v", err)
	}
}

// TestSizeLimitDeb: the data archives of a deb source count together.
func TestSizeLimitDeb(t *testing.T) {
	testutil.RequireRoot(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bombTar(t))
	zw.Close()
	deb := testutil.Deb(t, "bomb", "1.0", "amd64", "data.tar.gz", gz.Bytes())
	sum := sha256.Sum256(deb)
	pkg := DebPackage{Name: "bomb", Version: "1.0", Architecture: "amd64", Filename: "pool/bomb.deb", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(deb))}
	cache := &memDebCache{m: map[string][]byte{pkg.SHA256: deb}}
	t.Logf("a %d-byte .deb unpacking to %d bytes", len(deb), bombSize)
	wantSizeLimit(t, AssembleDebs([]DebPackage{pkg}, cache, t.TempDir(), bombLimit))
	if err := AssembleDebs([]DebPackage{pkg}, cache, t.TempDir(), 2*bombSize); err != nil {
		t.Fatalf("under a larger limit: %v", err)
	}
}

// TestSizeLimitHTTP: a body over the limit fails, whether the server
// announces its length or not, and leaves nothing in the destination.
func TestSizeLimitHTTP(t *testing.T) {
	body := make([]byte, 2*bombLimit)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.Write(body[:1])
			w.(http.Flusher).Flush()
			w.Write(body[1:])
			return
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(body))
	}))
	defer srv.Close()
	for _, p := range []string{"/sized", "/chunked"} {
		dest := t.TempDir()
		wantSizeLimit(t, FetchHTTP(context.Background(), srv.URL+p, srcSha256Pin(body), "f", 0, dest, bombLimit))
		srcAssertEmptyDir(t, dest)
	}
	if err := FetchHTTP(context.Background(), srv.URL+"/chunked", srcSha256Pin(body), "f", 0, t.TempDir(), int64(len(body))); err != nil {
		t.Fatalf("a body of exactly the limit: %v", err)
	}
}

// TestSizeLimitGit: git objects are compressed, so the files of the
// commit are added up before anything is checked out.
func TestSizeLimitGit(t *testing.T) {
	r := srcNewTestRepo(t)
	if err := os.WriteFile(filepath.Join(r.dir, "zeros"), make([]byte, bombSize), 0o644); err != nil {
		t.Fatal(err)
	}
	srcGitTest(t, r.dir, "add", "-A")
	srcGitTest(t, r.dir, "commit", "--quiet", "-m", "bomb")
	pin := srcGitTest(t, r.dir, "rev-parse", "HEAD")
	dest := t.TempDir()
	wantSizeLimit(t, FetchGit(context.Background(), "file://"+r.dir, pin, false, dest, bombLimit))
	srcAssertEmptyDir(t, dest)
	if err := FetchGit(context.Background(), "file://"+r.dir, pin, false, t.TempDir(), 2*bombSize); err != nil {
		t.Fatalf("under a larger limit: %v", err)
	}
}
