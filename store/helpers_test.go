package store

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// clock is a settable time source for GC tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openT(t testing.TB, root string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// treeDigest is a stand-in for store/layer's canonical tar hash: sha256 over
// the sorted relative paths, modes and contents of a tree.
func treeDigest(root string) (digest.Digest, error) {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		rel, _ := filepath.Rel(root, p)
		info, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", rel, info.Mode())
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", err
			}
		}
	}
	return digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), nil
}

func rehash(kind string, d digest.Digest, path string) (digest.Digest, error) {
	if kind != KindLayer {
		return "", fmt.Errorf("unexpected kind %s", kind)
	}
	return treeDigest(path)
}

// addLayer makes a layer holding files (name -> content) and adds it.
func addLayer(t testing.TB, s *Store, files map[string]string) digest.Digest {
	t.Helper()
	d, err := addLayerErr(s, files)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func addLayerErr(s *Store, files map[string]string) (digest.Digest, error) {
	dir, err := s.TempDir("layer-")
	if err != nil {
		return "", err
	}
	var size int64
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", err
		}
		size += int64(len(content))
	}
	d, err := treeDigest(dir)
	if err != nil {
		return "", err
	}
	return d, s.AddLayer(dir, d, LayerInfo{Size: size, Files: len(files)})
}

func addBlob(t testing.TB, s *Store, content string) digest.Digest {
	t.Helper()
	d, n, err := s.AddBlob(strings.NewReader(content), "")
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(content)) {
		t.Fatalf("AddBlob size = %d, want %d", n, len(content))
	}
	return d
}

func drv(name string) digest.Digest { return digest.FromString("drv:" + name) }

// helper runs this test binary as a child process in the given helper mode
// (see TestHelperProcess).
func helper(t *testing.T, root, mode string, extraEnv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "KILN_STORE_HELPER="+mode, "KILN_STORE_HELPER_ROOT="+root)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = os.Stderr
	return cmd
}

// lines starts cmd and returns a channel of its stdout lines.
func lines(t *testing.T, cmd *exec.Cmd) <-chan string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 1024)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// expectLine waits for a line with the given prefix, failing after timeout.
func expectLine(t *testing.T, ch <-chan string, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("child exited before printing %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q line from child within %s", prefix, timeout)
		}
	}
}

// checkReadable asserts that every recorded output's objects exist and that
// blobs hash to their names.
func checkReadable(t *testing.T, s *Store) {
	t.Helper()
	ents, err := s.List("derivations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		out, ok, err := s.Lookup(e.Digest)
		if err != nil || !ok {
			t.Fatalf("Lookup(%s) = %v, %v", e.Digest, ok, err)
		}
		for _, l := range out.Layers {
			got, err := treeDigest(s.LayerPath(l))
			if err != nil || got != l {
				t.Fatalf("layer %s of %s: %v, hashes to %s", l, e.Digest, err, got)
			}
		}
		for _, bl := range out.Blobs {
			b, err := os.ReadFile(s.BlobPath(bl))
			if err != nil || digest.FromBytes(b) != bl {
				t.Fatalf("blob %s of %s: %v", bl, e.Digest, err)
			}
		}
	}
}
