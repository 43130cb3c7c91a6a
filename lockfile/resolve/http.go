package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"

	"github.com/kiln-build/kiln/lockfile"
)

// httpResolver downloads the URL once and records its sha256 and size:
// the build later downloads it again and checks both.
type httpResolver struct{ client *http.Client }

var _ Resolver = httpResolver{}

func newHTTPResolver(env Env) Resolver { return httpResolver{client: env.Client} }

// Resolve pins in's URL to the sha256 and size of what it serves now.
func (r httpResolver) Resolve(ctx context.Context, in *lockfile.Input) (*lockfile.Entry, error) {
	client := r.client
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.Source.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("parsing url %q: %w", in.Source.URL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", in.Source.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("downloading %s: %s", in.Source.URL, resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", in.Source.URL, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, fmt.Errorf("downloading %s: got %d bytes, the server announced %d", in.Source.URL, n, resp.ContentLength)
	}
	return &lockfile.Entry{Address: in.Address, Type: lockfile.TypeHTTP, URL: in.Source.URL, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
