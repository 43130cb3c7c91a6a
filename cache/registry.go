package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Timeouts bound every registry request, so that a slow or hung registry
// costs a build seconds, not its whole run: connecting and the first byte
// of an answer are bounded (Spec.Timeout overrides the latter), and so is
// every manifest request as a whole.
const (
	dialTimeout          = 5 * time.Second
	defaultHeaderTimeout = 15 * time.Second
)

// registryBackend is a tag in a registry repository (see the tag scheme in
// the package documentation), spoken to with go-containerregistry.
// Loopback registries are spoken to over plain http, as
// go-containerregistry does for them by default.
type registryBackend struct {
	tag     name.Tag
	repo    name.Repository
	tr      http.RoundTripper
	timeout time.Duration // of a whole manifest request
	idle    time.Duration // of an upload's body while the registry takes none of it

	mu sync.Mutex
	rt http.RoundTripper // see transport
}

var _ backend = (*registryBackend)(nil)

func newRegistry(ref string, timeout time.Duration) (*registryBackend, error) {
	if timeout <= 0 {
		timeout = defaultHeaderTimeout
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return nil, fmt.Errorf("cache ref %q: %w (write REGISTRY/REPOSITORY:TAG)", ref, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: min(dialTimeout, timeout)}).DialContext
	tr.TLSHandshakeTimeout = min(dialTimeout, timeout)
	tr.ResponseHeaderTimeout = timeout
	return &registryBackend{tag: tag, repo: tag.Context(), tr: tr, timeout: 2 * timeout, idle: timeout}, nil
}

func (r *registryBackend) opts(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(r.tr),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		// One quick retry: a cache that does not answer is skipped, not
		// waited for.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 2}),
	}
}

// notFound maps a registry's 404 onto errNotFound.
func notFound(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return errNotFound
	}
	return err
}

// get reads a manifest or the index, at most limit bytes of it: a hostile
// or broken registry cannot fill memory with an endless answer.
// go-containerregistry's own reads allow 100 MiB, so this request is made
// here, through its transport (which handles the registry's auth).
func (r *registryBackend) get(ctx context.Context, ref name.Reference, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	rt, err := r.transport(ctx)
	if err != nil {
		return nil, err
	}
	reg := r.repo.Registry
	u := url.URL{Scheme: reg.Scheme(), Host: reg.RegistryStr(), Path: "/v2/" + r.repo.RepositoryStr() + "/manifests/" + ref.Identifier()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", ocispec.MediaTypeImageIndex+","+ocispec.MediaTypeImageManifest)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, notFound(err)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a cache's manifest may have", ref, resp.ContentLength, limit)
	}
	return readLimited(resp.Body, limit, ref.String())
}

// transport is go-containerregistry's transport for the repository,
// authenticated once and kept for the backend's requests.
func (r *registryBackend) transport(ctx context.Context) (http.RoundTripper, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rt != nil {
		return r.rt, nil
	}
	auth, err := authn.DefaultKeychain.Resolve(r.repo.Registry)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, r.repo.Registry, auth, r.tr, []string{r.repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	r.rt = rt
	return rt, nil
}

func (r *registryBackend) put(ctx context.Context, ref name.Reference, raw []byte, mt string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return remote.Put(ref, rawManifest{raw: raw, mt: types.MediaType(mt)}, r.opts(ctx)...)
}

func (r *registryBackend) index(ctx context.Context) ([]byte, error) {
	return r.get(ctx, r.tag, maxIndexSize)
}

func (r *registryBackend) putIndex(ctx context.Context, raw []byte) error {
	return r.put(ctx, r.tag, raw, ocispec.MediaTypeImageIndex)
}

func (r *registryBackend) manifest(ctx context.Context, d digest.Digest) ([]byte, error) {
	return r.get(ctx, r.repo.Digest(d.String()), maxManifestSize)
}

func (r *registryBackend) putManifest(ctx context.Context, d digest.Digest, raw []byte) error {
	return r.put(ctx, r.repo.Digest(d.String()), raw, ocispec.MediaTypeImageManifest)
}

func (r *registryBackend) blob(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	l, err := remote.Layer(r.repo.Digest(d.String()), r.opts(ctx)...)
	if err != nil {
		return nil, notFound(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, notFound(err)
	}
	return rc, nil
}

// putBlob leaves the existence check to go-containerregistry, which asks
// the registry (HEAD) before it uploads anything.
//
// A blob may take long to upload, but a registry that stops reading it is
// not waited for: the transport's timeouts bound only the wait for an
// answer once the body is sent, so a body that is not taken for the
// timeout cancels the upload (the uploads' counterpart of idleReader).
func (r *registryBackend) putBlob(ctx context.Context, d digest.Digest, size int64, open func() (io.ReadCloser, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &sendWatch{idle: r.idle, cancel: cancel}
	defer w.stop()
	l, err := partial.CompressedToLayer(&pushBlob{d: d, size: size, open: func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		return w.body(rc), nil
	}})
	if err != nil {
		return err
	}
	err = remote.WriteLayer(r.repo, l, r.opts(ctx)...)
	if err != nil && w.fired.Load() {
		return fmt.Errorf("uploading blob %s: the registry took no data for %s: %w", d, r.idle, context.DeadlineExceeded)
	}
	return err
}

// sendWatch cancels an upload whose body the transport stops reading for
// idle: it reads only as fast as the registry takes the data. Once the
// body is all read, what remains (its last buffered bytes, then the
// answer, which the transport bounds itself) gets twice as long.
type sendWatch struct {
	idle   time.Duration
	cancel func()
	mu     sync.Mutex
	timer  *time.Timer
	fired  atomic.Bool
}

func (w *sendWatch) body(rc io.ReadCloser) io.ReadCloser {
	w.arm(w.idle)
	return &watchedBody{rc: rc, w: w}
}

func (w *sendWatch) arm(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer == nil {
		w.timer = time.AfterFunc(d, func() {
			w.fired.Store(true)
			w.cancel()
		})
		return
	}
	w.timer.Reset(d)
}

func (w *sendWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

type watchedBody struct {
	rc io.ReadCloser
	w  *sendWatch
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.w.arm(2 * b.w.idle)
	case n > 0:
		b.w.arm(b.w.idle)
	}
	return n, err
}

func (b *watchedBody) Close() error { return b.rc.Close() }

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// pushBlob is a blob of the store as go-containerregistry uploads it.
type pushBlob struct {
	d    digest.Digest
	size int64
	open func() (io.ReadCloser, error)
}

func (b *pushBlob) Digest() (v1.Hash, error)            { return v1.NewHash(b.d.String()) }
func (b *pushBlob) Compressed() (io.ReadCloser, error)  { return b.open() }
func (b *pushBlob) Size() (int64, error)                { return b.size, nil }
func (b *pushBlob) MediaType() (types.MediaType, error) { return types.MediaType(blobType), nil }

// Explain says in words what went wrong with a cache, before the
// registry client's own account of it: a refused login, a failing
// registry, one that is too slow, or nothing at the address.
func Explain(err error) string {
	var te *transport.Error
	var ne net.Error
	msg := err.Error()
	switch {
	case errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden):
		return fmt.Sprintf("the registry refused the credentials (HTTP %d): check `docker login` for it or its credential helper: %s", te.StatusCode, msg)
	case errors.As(err, &te) && te.StatusCode >= 500:
		return fmt.Sprintf("the registry failed (HTTP %d): %s", te.StatusCode, msg)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout(), strings.Contains(msg, "timeout awaiting response headers"):
		return "the registry did not answer in time (if it is only slow, raise timeout=): " + msg
	case errors.Is(err, syscall.ECONNREFUSED), strings.Contains(msg, "connection refused"):
		return "nothing answers at its address (connection refused): " + msg
	}
	return msg
}
