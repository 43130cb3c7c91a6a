package realize

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/debian"
	"github.com/kiln-build/kiln/realize/source"
	"github.com/kiln-build/kiln/store"
)

// debFetchJobs bounds concurrent .deb downloads: enough to hide latency,
// few enough to be polite to a public mirror.
const debFetchJobs = 4

// debSource assembles a deb source's root filesystem into tree: its
// packages come from the store's blobs, downloaded first when missing.
func (r *Realizer) debSource(ctx context.Context, op *compiler.SourceOp, tree string) error {
	pkgs, err := source.ParseDebManifest(op.Attrs["packages"])
	if err != nil {
		return err
	}
	cache := storeDebCache{r.st}
	for _, p := range pkgs {
		rc, err := cache.Open(p.SHA256)
		if err != nil {
			return err
		}
		if rc == nil {
			// Something is missing: only now is a mirror needed.
			mirror, err := debMirror(op)
			if err != nil {
				return err
			}
			if err := source.FetchDebs(ctx, nil, mirror, pkgs, cache, debFetchJobs); err != nil {
				return err
			}
			break
		}
		rc.Close()
	}
	return source.AssembleDebs(pkgs, cache, tree, op.MaxSize)
}

// debMirror is where the packages are downloaded from: the build's
// repository setting, else the machine's apt source for the suite.
func debMirror(op *compiler.SourceOp) (string, error) {
	if op.Mirror != "" {
		return strings.TrimSuffix(op.Mirror, "/"), nil
	}
	suite, _, _ := strings.Cut(op.Identifier, "/")
	srcs, err := debian.ReadAptSources("/")
	if err != nil {
		return "", fmt.Errorf("reading the apt configuration: %w", err)
	}
	s, err := debian.FindSuite(srcs, suite)
	if err != nil {
		return "", err
	}
	return s.URI, nil
}

// storeDebCache keeps .debs as store blobs, named by their sha256.
type storeDebCache struct{ st *store.Store }

func (c storeDebCache) Open(sum string) (io.ReadCloser, error) {
	d := digest.NewDigestFromEncoded(digest.SHA256, sum)
	ok, err := c.st.HasBlob(d)
	if err != nil || !ok {
		return nil, err
	}
	f, err := os.Open(c.st.BlobPath(d))
	if os.IsNotExist(err) {
		return nil, nil
	}
	return f, err
}

func (c storeDebCache) Add(rd io.Reader, sum string) error {
	_, _, err := c.st.AddBlob(rd, digest.NewDigestFromEncoded(digest.SHA256, sum))
	return err
}
