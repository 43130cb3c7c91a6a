package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
)

// FetchImage pulls the image ref (a repository, with or without tag) at the
// manifest or index digest pin from its registry, selects platform as
// FetchOCILayout does, and unpacks each layer into a new directory from
// newDir. A build never resolves a tag: pin is required, and only content
// matching it is accepted (the manifest is fetched by digest and checked,
// every blob is checked against its descriptor, every layer's uncompressed
// stream against the config's diff_id). More than maxSize bytes of
// uncompressed layers (0: DefaultMaxSize) is a *SizeLimitError.
//
// Credentials come from the docker config (authn.DefaultKeychain). Plain
// http is used for loopback and private-network registries, as the docker
// CLI does, and for any registry when insecure is set.
func FetchImage(ctx context.Context, ref, pin, platform string, insecure bool, maxSize int64, newDir func() (string, error)) (*Image, error) {
	if pin == "" {
		return nil, fmt.Errorf("image %s has no pinned digest; run kiln lock to pin it", ref)
	}
	d, err := digest.Parse(pin)
	if err != nil {
		return nil, fmt.Errorf("image %s: pin %q is not a digest: %w", ref, pin, err)
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	parsed, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	if dr, ok := parsed.(name.Digest); ok && dr.DigestStr() != pin {
		return nil, fmt.Errorf("image %s: pin mismatch: the reference names %s but the lock pins %s", ref, dr.DigestStr(), pin)
	}
	src := &registrySource{
		repo: parsed.Context(),
		opts: []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)},
	}
	img, err := fetchOCI(ctx, src, d, pin, platform, maxSize, newDir)
	if err != nil {
		// Say what the tag points at now, so a stale pin is obvious.
		if tag, ok := parsed.(name.Tag); ok {
			if cur, herr := remote.Head(tag, src.options(ctx)...); herr == nil && cur.Digest.String() != pin {
				return nil, pinErr(fmt.Errorf("image %s: pin mismatch: the lock pins %s but %s is now %s: %w", ref, pin, tag.TagStr(), cur.Digest, err))
			}
		}
		return nil, fmt.Errorf("image %s@%s: %w", parsed.Context(), d, err)
	}
	return img, nil
}

type registrySource struct {
	repo name.Repository
	// opts hold no context: each request takes its caller's (options).
	opts []remote.Option
}

// options are s's options for one request under ctx, with more after
// them, so that cancelling the caller's context stops that request.
func (s *registrySource) options(ctx context.Context, more ...remote.Option) []remote.Option {
	opts := make([]remote.Option, 0, len(s.opts)+len(more)+1)
	opts = append(opts, s.opts...)
	opts = append(opts, more...)
	return append(opts, remote.WithContext(ctx))
}

func (s *registrySource) bytes(ctx context.Context, d digest.Digest) ([]byte, error) {
	ref := s.repo.Digest(d.String())
	// Manifests and indexes come from the manifests endpoint, configs from
	// blobs; the digest says nothing about which, so try the manifest first.
	// Debian's docker-registry answers 500, not 404, for a config's digest
	// on the manifests endpoint; retrying that costs seconds per image, so
	// this probe retries only what says to try again.
	desc, err := remote.Get(ref, s.options(ctx, remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests))...)
	if err == nil {
		if got := digest.FromBytes(desc.Manifest); got != d {
			return nil, fmt.Errorf("pin mismatch: asked for %s, the registry sent %s", d, got)
		}
		return desc.Manifest, nil
	}
	rc, berr := s.open(ctx, d)
	if berr != nil {
		if registryNotFound(err) && registryNotFound(berr) {
			return nil, notFound{fmt.Errorf("fetching %s: %w", d, err)}
		}
		return nil, fmt.Errorf("fetching %s: %w", d, err)
	}
	defer rc.Close()
	return readVerified(rc, d)
}

func (s *registrySource) open(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	l, err := remote.Layer(s.repo.Digest(d.String()), s.options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("fetching blob %s: %w", d, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("fetching blob %s: %w", d, err)
	}
	return rc, nil
}

var _ ociBlobs = (*registrySource)(nil)

// registryNotFound reports whether the registry answered that it does not
// have what was asked for, as opposed to failing to answer.
func registryNotFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.BlobUnknownErrorCode {
			return true
		}
	}
	return false
}

// imageFetcher pulls an image from its registry.
type imageFetcher struct{}

func (imageFetcher) Fetch(ctx context.Context, req *Request) (Fetched, error) {
	img, err := FetchImage(ctx, req.Identifier, req.Pin, req.Platform, req.Insecure(req.Identifier), req.MaxSize, req.NewDir)
	return Fetched{Image: img}, err
}
