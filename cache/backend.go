package cache

import (
	"context"
	"errors"
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
