package debian

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"

	"github.com/kiln-build/kiln/internal/atomicfile"
)

// Repo is one suite of a Debian repository.
type Repo struct {
	// URI is the repository base ("http://HOST/debian"), from the apt
	// configuration or the build's repository setting; never recorded.
	URI        string
	Suite      string
	Components []string
	Arch       string
	// Keyrings are the keyrings gpgv checks InRelease against: the apt
	// source's Signed-By, or apt's trusted keyrings (TrustedKeyrings).
	// None means the source is trusted=yes and nothing is checked.
	Keyrings []string
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// CacheDir keeps verified Packages indexes by their sha256, so that a
	// second kiln lock downloads only InRelease. Empty disables caching.
	CacheDir string
}

func (r *Repo) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	return http.DefaultClient
}

// Bounds on what a repository may make kiln hold in memory. Debian's
// bookworm InRelease is about 150 kB and its largest uncompressed
// Packages index (main, amd64) about 45 MB.
const (
	MaxReleaseSize  = 16 << 20
	MaxPackagesSize = 512 << 20
)

// packagesLimit is MaxPackagesSize; tests lower it.
var packagesLimit int64 = MaxPackagesSize

// TooLargeError is a repository file past its bound.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes, more than any Debian repository serves; check the repository", e.Path, e.Limit)
}

// readBounded reads r whole, failing with a TooLargeError past limit.
func readBounded(r io.Reader, path string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	return b, nil
}

// get fetches URI/path into memory, at most limit bytes.
func (r *Repo) get(ctx context.Context, path string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URI+"/"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Path: path, Status: resp.Status, Code: resp.StatusCode}
	}
	return readBounded(resp.Body, path, limit)
}

// StatusError is a non-200 answer from the repository.
type StatusError struct {
	Path   string
	Status string
	Code   int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("the repository answered %s for %s", e.Status, e.Path)
}

// Release fetches and parses the suite's InRelease (falling back to
// Release), checking its signature when a Keyring is set. It returns the
// index files it lists: path -> sha256 and size.
func (r *Repo) Release(ctx context.Context) (map[string]FileSum, error) {
	rel, err := r.release(ctx)
	if err != nil {
		return nil, err
	}
	return rel.sums, nil
}

type release struct {
	sums map[string]FileSum
	// pin is the suite's default apt priority: 1 for NotAutomatic, 100
	// with ButAutomaticUpgrades too (backports), else DefaultPin.
	pin int
}

func (r *Repo) release(ctx context.Context) (*release, error) {
	dists := "dists/" + r.Suite + "/"
	raw, err := r.get(ctx, dists+"InRelease", MaxReleaseSize)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		raw, err = r.get(ctx, dists+"Release", MaxReleaseSize)
		if err == nil && len(r.Keyrings) > 0 {
			return nil, fmt.Errorf("suite %s has no InRelease, and checking a detached Release.gpg is not supported; set trusted=yes in the apt source to skip the check", r.Suite)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fetching the Release file of suite %s: %w", r.Suite, err)
	}
	text := clearsigned(raw)
	if len(r.Keyrings) > 0 {
		// Only what gpgv says was signed is read: a file with unsigned text
		// around a valid signed message still passes gpgv, and its first
		// paragraph must not be the one that counts.
		if text, err = gpgv(ctx, r.Keyrings, raw); err != nil {
			return nil, fmt.Errorf("checking the signature of suite %s: %w", r.Suite, err)
		}
	}
	var sums map[string]FileSum
	pin := DefaultPin
	err = ParseParagraphs(bytes.NewReader(text), func(p Paragraph) error {
		if sums != nil {
			return nil
		}
		if strings.EqualFold(p.Get("NotAutomatic"), "yes") {
			pin = 1
			if strings.EqualFold(p.Get("ButAutomaticUpgrades"), "yes") {
				pin = 100
			}
		}
		sums = map[string]FileSum{}
		for _, l := range strings.Split(p.Get("SHA256"), "\n") {
			f := strings.Fields(l)
			if len(f) != 3 {
				continue
			}
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return fmt.Errorf("bad size in SHA256 line %q", l)
			}
			sums[f[2]] = FileSum{SHA256: f[0], Size: n}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("parsing the Release file of suite %s: %w", r.Suite, err)
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("the Release file of suite %s lists no SHA256 sums", r.Suite)
	}
	return &release{sums: sums, pin: pin}, nil
}

// FileSum is the sha256 and size the Release file gives an index.
type FileSum struct {
	SHA256 string
	Size   int64
}

// gpgv checks a clear-signed file against keyrings with gpgv(1), the tool
// apt itself uses, and returns the signed text as gpgv read it. Armored
// keyrings (apt's .asc files, which gpgv 2.2 cannot read) are converted to
// binary ones in a temporary folder first.
func gpgv(ctx context.Context, keyrings []string, signed []byte) ([]byte, error) {
	if _, err := exec.LookPath("gpgv"); err != nil {
		return nil, fmt.Errorf("gpgv is not installed (apt-get install gpgv), and the Release file must be checked against %s", strings.Join(keyrings, ", "))
	}
	tmp, err := os.MkdirTemp("", "kiln-keyrings-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var args []string
	for i, k := range keyrings {
		b, err := os.ReadFile(k)
		if err != nil {
			return nil, fmt.Errorf("reading keyring: %w", err)
		}
		if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN PGP")) {
			bin, err := dearmor(b)
			if err != nil {
				return nil, fmt.Errorf("keyring %s: %w", k, err)
			}
			k = filepath.Join(tmp, fmt.Sprintf("%d.gpg", i))
			if err := os.WriteFile(k, bin, 0o600); err != nil {
				return nil, err
			}
		}
		args = append(args, "--keyring", k)
	}
	cmd := exec.CommandContext(ctx, "gpgv", append(args, "--output", "-", "-")...)
	cmd.Stdin = bytes.NewReader(signed)
	var out, msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &msg
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("gpgv with %s: %v: %s", strings.Join(keyrings, ", "), err, strings.TrimSpace(msg.String()))
	}
	return out.Bytes(), nil
}

// dearmor decodes the ASCII-armored OpenPGP blocks in b (RFC 4880,
// section 6.2) to their binary packets, back to back.
func dearmor(b []byte) ([]byte, error) {
	var out []byte
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "-----BEGIN PGP ") {
			continue
		}
		// Armor headers run to the first blank line.
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
		}
		var data strings.Builder
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "-----END PGP "); i++ {
			l := strings.TrimSpace(lines[i])
			if strings.HasPrefix(l, "=") { // the CRC-24 line
				continue
			}
			data.WriteString(l)
		}
		if i == len(lines) {
			return nil, errors.New("an armored block has no END line")
		}
		bin, err := base64.StdEncoding.DecodeString(data.String())
		if err != nil {
			return nil, fmt.Errorf("an armored block is not valid base64: %w", err)
		}
		out = append(out, bin...)
	}
	if len(out) == 0 {
		return nil, errors.New("no armored block found")
	}
	return out, nil
}

// TrustedKeyrings lists the keyrings apt trusts for a source without
// Signed-By, under root: /etc/apt/trusted.gpg and the .gpg and .asc files
// of /etc/apt/trusted.gpg.d, in name order.
func TrustedKeyrings(root string) []string {
	var out []string
	if fi, err := os.Stat(filepath.Join(root, "etc/apt/trusted.gpg")); err == nil && fi.Mode().IsRegular() {
		out = append(out, filepath.Join(root, "etc/apt/trusted.gpg"))
	}
	var parts []string
	for _, ext := range []string{"*.gpg", "*.asc"} {
		m, _ := filepath.Glob(filepath.Join(root, "etc/apt/trusted.gpg.d", ext))
		parts = append(parts, m...)
	}
	sort.Strings(parts)
	return append(out, parts...)
}

// Index fetches the suite's Packages indexes for each component (xz, gz
// or uncompressed, whichever the Release file lists first), checks each
// against the Release file, and reads them into one Index.
func (r *Repo) Index(ctx context.Context) (*Index, error) {
	rel, err := r.release(ctx)
	if err != nil {
		return nil, err
	}
	sums := rel.sums
	ix := NewIndex(r.Arch)
	ix.DefaultPin = rel.pin
	comps := r.Components
	if len(comps) == 0 {
		comps = []string{"main"}
	}
	for _, c := range comps {
		if err := r.readPackages(ctx, ix, sums, c); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

func (r *Repo) readPackages(ctx context.Context, ix *Index, sums map[string]FileSum, comp string) error {
	base := comp + "/binary-" + r.Arch + "/Packages"
	for _, ext := range []string{".xz", ".gz", ""} {
		sum, ok := sums[base+ext]
		if !ok {
			continue
		}
		text, err := r.packagesText(ctx, base+ext, sum)
		if err != nil {
			return err
		}
		defer text.Close()
		if err := ix.Read(text); err != nil {
			return fmt.Errorf("reading %s of suite %s: %w", base+ext, r.Suite, err)
		}
		return nil
	}
	return fmt.Errorf("suite %s has no %s index: check the component and the architecture", r.Suite, base)
}

// packagesText returns the uncompressed Packages file, from the cache when
// an index with that sha256 was fetched before.
func (r *Repo) packagesText(ctx context.Context, path string, sum FileSum) (io.ReadCloser, error) {
	cached := ""
	if r.CacheDir != "" {
		cached = filepath.Join(r.CacheDir, "Packages-"+sum.SHA256)
		if f, err := os.Open(cached); err == nil {
			return f, nil
		}
	}
	if sum.Size < 0 || sum.Size > packagesLimit {
		return nil, &TooLargeError{Path: "dists/" + r.Suite + "/" + path, Limit: packagesLimit}
	}
	// The Release file gave the size: one byte more is already a mismatch.
	raw, err := r.get(ctx, "dists/"+r.Suite+"/"+path, sum.Size+1)
	var tl *TooLargeError
	if errors.As(err, &tl) {
		return nil, fmt.Errorf("%s of suite %s is longer than the %d bytes the Release file says; the mirror may be mid-update, try again: %w", path, r.Suite, sum.Size, err)
	}
	if err != nil {
		return nil, fmt.Errorf("fetching %s of suite %s: %w", path, r.Suite, err)
	}
	h := sha256.Sum256(raw)
	if got := hex.EncodeToString(h[:]); got != sum.SHA256 || int64(len(raw)) != sum.Size {
		return nil, fmt.Errorf("%s of suite %s has sha256 %s (%d bytes) but the Release file says %s (%d bytes); the mirror may be mid-update, try again", path, r.Suite, got, len(raw), sum.SHA256, sum.Size)
	}
	var text []byte
	switch {
	case strings.HasSuffix(path, ".xz"):
		zr, err := xz.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("decompressing %s: %w", path, err)
		}
		if text, err = readBounded(zr, path, packagesLimit); err != nil {
			return nil, fmt.Errorf("decompressing %s: %w", path, err)
		}
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("decompressing %s: %w", path, err)
		}
		if text, err = readBounded(zr, path, packagesLimit); err != nil {
			return nil, fmt.Errorf("decompressing %s: %w", path, err)
		}
	default:
		text = raw
	}
	if cached != "" {
		// A cache that cannot be written only costs a download next time.
		if err := os.MkdirAll(r.CacheDir, 0o755); err == nil {
			atomicfile.WriteFile(cached, text, 0o600)
		}
	}
	return io.NopCloser(bytes.NewReader(text)), nil
}
