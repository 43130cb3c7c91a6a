package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/internal/atomicfile"
)

// localBackend is an OCI image layout directory whose index.json is the
// cache index. A shared disk or a CI cache folder holds it.
type localBackend struct{ dir string }

var _ backend = (*localBackend)(nil)

func (l *localBackend) path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("bad digest %q", d)
	}
	return filepath.Join(l.dir, "blobs", "sha256", d.Encoded()), nil
}

func (l *localBackend) read(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit, p)
}

func (l *localBackend) index(context.Context) ([]byte, error) {
	return l.read(filepath.Join(l.dir, "index.json"), maxIndexSize)
}

func (l *localBackend) putIndex(_ context.Context, raw []byte) error {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return err
	}
	layout := filepath.Join(l.dir, "oci-layout")
	if _, err := os.Stat(layout); err != nil {
		if err := atomicfile.WriteFile(layout, []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return err
		}
	}
	return atomicfile.WriteFile(filepath.Join(l.dir, "index.json"), raw, 0o644)
}

func (l *localBackend) manifest(_ context.Context, d digest.Digest) ([]byte, error) {
	p, err := l.path(d)
	if err != nil {
		return nil, err
	}
	return l.read(p, maxManifestSize)
}

func (l *localBackend) putManifest(_ context.Context, d digest.Digest, raw []byte) error {
	p, err := l.path(d)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, raw, 0o644)
}

func (l *localBackend) blob(_ context.Context, d digest.Digest) (io.ReadCloser, error) {
	p, err := l.path(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotFound
	}
	return f, err
}

func (l *localBackend) putBlob(_ context.Context, d digest.Digest, _ int64, open func() (io.ReadCloser, error)) error {
	p, err := l.path(d)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return atomicfile.Write(p, 0o644, func(f *os.File) error {
		_, err := io.Copy(f, rc)
		return err
	})
}
