package cache

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// backend is where a cache lives: a registry repository (registry.go) or
// an OCI layout directory (local.go). Every method returns errNotFound for
// what is absent, and checks nothing: callers hash what they read.
type backend interface {
	// index reads the cache index.
	index(ctx context.Context) ([]byte, error)
	// putIndex replaces the cache index.
	putIndex(ctx context.Context, raw []byte) error
	manifest(ctx context.Context, d digest.Digest) ([]byte, error)
	putManifest(ctx context.Context, d digest.Digest, raw []byte) error
	blob(ctx context.Context, d digest.Digest) (io.ReadCloser, error)
	// putBlob uploads the blob d of size bytes unless the cache has it.
	putBlob(ctx context.Context, d digest.Digest, size int64, open func() (io.ReadCloser, error)) error
}

var errNotFound = errors.New("not found")

// What a cache's JSON may weigh: a hostile or broken cache cannot exhaust
// memory with an endless index or manifest. An index entry is a few
// hundred bytes, so the index cap is some 100,000 entries; blobs are
// bounded by the sizes their (signed) entries give.
const (
	maxIndexSize    = 32 << 20
	maxManifestSize = 4 << 20
)

// readLimited reads r whole unless it holds more than limit bytes.
func readLimited(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is more than %d bytes, more than a cache's manifest may have", what, limit)
	}
	return b, nil
}

// open returns the backend of s.
func open(s Spec) (backend, error) {
	switch s.Type {
	case "local":
		return &localBackend{dir: s.Dir}, nil
	case "registry":
		return newRegistry(s.Ref, s.Timeout)
	}
	return nil, errors.New("unknown cache type " + s.Type)
}
