package realize

import (
	"io"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/realize/source"
	"github.com/kiln-build/kiln/store"
)

// storeDebCache keeps .debs as store blobs, named by their sha256.
type storeDebCache struct{ st *store.Store }

var _ source.DebCache = storeDebCache{}

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
