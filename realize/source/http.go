package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-build/kiln/internal/atomicfile"
	"github.com/kiln-build/kiln/internal/unixmode"
)

// Timeouts of an HTTP download. There is no limit on the whole transfer (a
// large file on a slow link is fine, and ctx can end it); what is bounded is
// each phase that can hang: connecting, the TLS handshake, waiting for the
// response, and a body that stops flowing. Variables so tests can shorten
// them.
var (
	httpDialTimeout   = 30 * time.Second
	httpHeaderTimeout = 60 * time.Second
	httpStallTimeout  = 60 * time.Second
)

// FetchHTTP downloads rawURL into destDir/filename, verifying it against pin
// ("sha256:<hex>") before it appears there: the body streams into a temporary
// file in destDir while being hashed, and only a matching file is renamed
// into place, with mode (0644 when zero). On any error nothing is left in
// destDir. Proxies are taken from the environment (HTTP_PROXY, HTTPS_PROXY,
// NO_PROXY). A body of more than maxSize bytes (0: DefaultMaxSize) is a
// *SizeLimitError, found from Content-Length before anything is written
// when the server sends one.
func FetchHTTP(ctx context.Context, rawURL, pin, filename string, mode uint32, destDir string, maxSize int64) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("http source %q: %w", rawURL, err)
	}
	shown := u.Redacted()
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("http source %s: scheme %q is not http or https", shown, u.Scheme)
	}
	want, err := parseSHA256Pin(pin)
	if err != nil {
		return fmt.Errorf("http source %s: %w", shown, err)
	}
	if filename == "" || filename == "." || filename == ".." || strings.ContainsAny(filename, "/\x00") {
		return fmt.Errorf("http source %s: filename %q must be a plain file name", shown, filename)
	}
	if mode == 0 {
		mode = 0o644
	}
	if mode&^0o7777 != 0 {
		return fmt.Errorf("http source %s: mode %o has bits beyond 07777", shown, mode)
	}

	// The body streams into a temporary beside the file; only a body that
	// matches the pin takes the file's name.
	var fetchErr error
	err = atomicfile.Write(filepath.Join(destDir, filename), unixmode.ToFileMode(mode), func(f *os.File) error {
		got, err := httpDownload(ctx, u, shown, f, newSizeBudget(maxSize))
		if err == nil && got != want {
			err = pinErr(fmt.Errorf("downloading %s: sha256 mismatch: the lock pins sha256:%s but the server sent sha256:%s", shown, want, got))
		}
		fetchErr = err
		return err
	})
	if fetchErr != nil {
		return fetchErr
	}
	if err != nil {
		return fmt.Errorf("downloading %s: %w", shown, err)
	}
	return nil
}

// parseSHA256Pin checks a "sha256:<64 lowercase hex>" pin and returns the hex.
func parseSHA256Pin(pin string) (string, error) {
	h, ok := strings.CutPrefix(pin, "sha256:")
	if !ok || len(h) != 64 || strings.ToLower(h) != h {
		return "", fmt.Errorf("pin %q is not of the form sha256:<64 lowercase hex digits>", pin)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("pin %q is not of the form sha256:<64 lowercase hex digits>", pin)
	}
	return h, nil
}

var errHTTPStalled = errors.New("no data received")

// httpDownload streams u's body into w and returns its sha256 in hex.
func httpDownload(ctx context.Context, u *url.URL, shown string, w io.Writer, budget *sizeBudget) (string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.DialContext = (&net.Dialer{Timeout: httpDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = httpDialTimeout
	tr.ResponseHeaderTimeout = httpHeaderTimeout
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", shown, err)
	}
	// Compression negotiated by the transport would be undone before we
	// see the body anyway; asking for identity keeps what we hash equal to
	// what the server stores.
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "kiln")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", shown, httpUnwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading %s: the server answered %s", shown, resp.Status)
	}
	if resp.ContentLength > budget.limit {
		return "", &SizeLimitError{Limit: budget.limit}
	}
	body := budget.reader(resp.Body)

	stall := time.AfterFunc(httpStallTimeout, func() {
		cancel(fmt.Errorf("%w for %s", errHTTPStalled, httpStallTimeout))
	})
	defer stall.Stop()
	sh := sha256.New()
	buf := make([]byte, 64<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			stall.Reset(httpStallTimeout)
			sh.Write(buf[:n])
			if _, err := w.Write(buf[:n]); err != nil {
				return "", fmt.Errorf("downloading %s: writing: %w", shown, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if sle := (*SizeLimitError)(nil); errors.As(rerr, &sle) {
			return "", sle
		}
		if rerr != nil {
			if cause := context.Cause(ctx); cause != nil {
				rerr = cause
			}
			return "", fmt.Errorf("downloading %s: reading the body: %w", shown, rerr)
		}
	}
	return hex.EncodeToString(sh.Sum(nil)), nil
}

// httpUnwrapURLError drops the *url.Error wrapper, whose message repeats the
// URL (unredacted) that our own message already names.
func httpUnwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// httpFetcher downloads one file (attributes filename and mode, octal).
type httpFetcher struct{}

func (httpFetcher) Fetch(ctx context.Context, req *Request) (Fetched, error) {
	tree, err := req.NewDir()
	if err != nil {
		return Fetched{}, err
	}
	mode, err := strconv.ParseUint(req.Attrs["mode"], 8, 32)
	if err != nil {
		return Fetched{}, fmt.Errorf("bad mode %q", req.Attrs["mode"])
	}
	if err := FetchHTTP(ctx, req.Identifier, req.Pin, req.Attrs["filename"], uint32(mode), tree, req.MaxSize); err != nil {
		return Fetched{}, err
	}
	return Fetched{Tree: tree}, nil
}
