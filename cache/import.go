package cache

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

// Importer is the realizer's Substituter over --cache-from caches, asked
// in the order given. It downloads only what a build asks it for.
type Importer struct {
	sources []*source
	warn    func(string)

	entries, bytes atomic.Int64 // fetched
}

// Fetched says how many outputs were fetched and how many bytes of blobs
// were downloaded for them.
func (im *Importer) Fetched() (outputs, bytes int64) { return im.entries.Load(), im.bytes.Load() }

var _ realize.Substituter = (*Importer)(nil)

// source is one cache being imported from.
type source struct {
	spec    Spec
	be      backend
	trusted []PublicKey

	loadOnce sync.Once
	ix       *index

	mu     sync.Mutex
	down   bool
	warned map[string]bool

	downloaded *atomic.Int64 // bytes of blobs, the Importer's count
}

// NewImporter prepares imports from specs. It reads the trusted keys now
// (a missing key file is the caller's mistake) and the caches' indexes
// when first needed. warn receives one line per problem.
func NewImporter(specs []Spec, warn func(string)) (*Importer, error) {
	im := &Importer{warn: warn}
	for _, s := range specs {
		be, err := open(s)
		if err != nil {
			return nil, err
		}
		src := &source{spec: s, be: be, warned: map[string]bool{}, downloaded: &im.bytes}
		for _, p := range s.Trusted {
			k, err := LoadPublicKey(p)
			if err != nil {
				return nil, fmt.Errorf("--cache-from %s: %w", s, err)
			}
			src.trusted = append(src.trusted, k)
		}
		im.sources = append(im.sources, src)
	}
	return im, nil
}

// Check reads every cache's index now and fails if a cache given with
// required=true cannot be read.
func (im *Importer) Check(ctx context.Context) error {
	for _, s := range im.sources {
		s.load(ctx, im.warn)
		if s.spec.Required && s.unusable() {
			return fmt.Errorf("%s is required but cannot be used (see the warning above)", s.spec)
		}
	}
	return nil
}

// warnOnce reports a problem of s once per kind.
func (s *source) warnOnce(warn func(string), kind, msg string) {
	s.mu.Lock()
	seen := s.warned[kind]
	s.warned[kind] = true
	s.mu.Unlock()
	if !seen && warn != nil {
		warn(msg)
	}
}

// fail marks s unusable for the rest of the build: a cache that failed
// once is not waited for again.
func (s *source) fail(warn func(string), err error) {
	s.mu.Lock()
	s.down = true
	s.mu.Unlock()
	s.warnOnce(warn, "down", fmt.Sprintf("%s is unavailable, building locally: %s", s.spec, Explain(err)))
}

func (s *source) unusable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *source) load(ctx context.Context, warn func(string)) {
	s.loadOnce.Do(func() {
		raw, err := s.be.index(ctx)
		if errors.Is(err, errNotFound) {
			s.ix = newIndex()
			return
		}
		if err == nil {
			s.ix, err = parseIndex(raw)
		}
		if err != nil {
			s.ix = newIndex()
			s.fail(warn, fmt.Errorf("reading its index: %w", err))
		}
	})
}

// trusts reports whether an entry signed by id may be used at all; the
// signature itself is checked when the entry is fetched.
func (s *source) trusts(id string) bool {
	if id == "" {
		return s.spec.Insecure
	}
	for _, k := range s.trusted {
		if k.ID() == id {
			return true
		}
	}
	return s.spec.Insecure && len(s.trusted) == 0
}

// entry returns the descriptor of a usable entry for key.
func (s *source) entry(ctx context.Context, key digest.Digest, warn func(string)) (ocispec.Descriptor, bool) {
	s.load(ctx, warn)
	if s.unusable() {
		return ocispec.Descriptor{}, false
	}
	d, ok := s.ix.lookup(key)
	if !ok {
		return ocispec.Descriptor{}, false
	}
	if id := d.Annotations[AnnotationKeyID]; !s.trusts(id) {
		what := "unsigned entries (add insecure=true to use them)"
		if id != "" {
			what = "entries signed by " + id + ", which is not a trusted key"
		}
		s.warnOnce(warn, "untrusted "+id, fmt.Sprintf("%s: skipping %s", s.spec, what))
		return ocispec.Descriptor{}, false
	}
	return d, true
}

// Has reports whether a cache has a usable entry for key.
func (im *Importer) Has(ctx context.Context, key digest.Digest) bool {
	for _, s := range im.sources {
		if _, ok := s.entry(ctx, key, im.warn); ok {
			return true
		}
	}
	return false
}

// Substitute fetches the output for key from the first cache that has a
// usable entry, into st.
func (im *Importer) Substitute(ctx context.Context, st *store.Store, key digest.Digest) (store.Output, bool) {
	for _, s := range im.sources {
		d, ok := s.entry(ctx, key, im.warn)
		if !ok {
			continue
		}
		out, err := s.fetch(ctx, st, key, d)
		if err == nil {
			im.entries.Add(1)
			return out, true
		}
		var ie *integrityError
		switch {
		case ctx.Err() != nil:
			return store.Output{}, false
		case errors.As(err, &ie):
			im.warn(fmt.Sprintf("%s: refusing its entry for %s: %v; building it locally", s.spec, short(key), err))
		default:
			s.fail(im.warn, err)
		}
	}
	return store.Output{}, false
}

// integrityError is an entry that is not what it claims: a bad signature,
// a blob whose digest differs. It is refused; the cache stays in use.
type integrityError struct{ err error }

func (e *integrityError) Error() string { return e.err.Error() }
func (e *integrityError) Unwrap() error { return e.err }

func integrityf(format string, args ...any) error {
	return &integrityError{fmt.Errorf(format, args...)}
}

// fetch downloads the entry d for key: its manifest and config, checked
// against their digests and the signature, then every layer and blob the
// store lacks, each checked before it enters the store.
func (s *source) fetch(ctx context.Context, st *store.Store, key digest.Digest, d ocispec.Descriptor) (store.Output, error) {
	rec, err := s.record(ctx, d)
	if err != nil {
		return store.Output{}, err
	}
	if !slices.Contains(rec.Keys, key) {
		return store.Output{}, integrityf("the signed entry is for %v, not %s", rec.Keys, key)
	}
	out := store.Output{Meta: rec.Meta, Built: time.Now().UTC(), DurationMS: rec.DurationMS}
	for _, l := range rec.Layers {
		if err := s.fetchLayer(ctx, st, l); err != nil {
			return store.Output{}, err
		}
		out.Layers = append(out.Layers, l.Layer)
	}
	for _, b := range rec.Blobs {
		if err := s.fetchBlob(ctx, st, b); err != nil {
			return store.Output{}, err
		}
		out.Blobs = append(out.Blobs, b.Digest)
	}
	if err := s.recordChain(ctx, st, rec); err != nil {
		return store.Output{}, err
	}
	return out, nil
}

// recordChain records the outputs of the states rec's was built on (see
// Entry.Chain), unless the store has them.
func (s *source) recordChain(ctx context.Context, st *store.Store, rec record) error {
	have := map[digest.Digest]bool{}
	for _, l := range rec.Layers {
		have[l.Layer] = true
	}
	for _, c := range rec.Chain {
		if _, ok, err := st.Lookup(c.Key); err != nil || ok {
			if err != nil {
				return err
			}
			continue
		}
		out := store.Output{Layers: c.Layers, Meta: c.Meta, Built: time.Now().UTC(), DurationMS: c.DurationMS}
		for _, l := range c.Layers {
			if !have[l] {
				return integrityf("state %s below the entry names layer %s, which the entry does not have", c.Key, l)
			}
		}
		for _, b := range c.Blobs {
			if err := s.fetchBlob(ctx, st, b); err != nil {
				return err
			}
			out.Blobs = append(out.Blobs, b.Digest)
		}
		if out.Meta == nil {
			out.Meta = map[string]string{}
		}
		out.Meta[realize.MetaOrigin] = "remote"
		if err := st.Record(c.Key, out); err != nil {
			return err
		}
	}
	return nil
}

// record reads and checks the entry's manifest and config.
func (s *source) record(ctx context.Context, d ocispec.Descriptor) (record, error) {
	raw, err := s.be.manifest(ctx, d.Digest)
	if err != nil {
		return record{}, fmt.Errorf("reading entry %s: %w", d.Digest, err)
	}
	if got := digest.FromBytes(raw); got != d.Digest {
		return record{}, integrityf("entry manifest is %s, not %s", got, d.Digest)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return record{}, integrityf("entry manifest %s: %v", d.Digest, err)
	}
	if m.Config.Size < 0 || m.Config.Size > maxManifestSize {
		return record{}, integrityf("entry config of %d bytes is too big", m.Config.Size)
	}
	rc, err := s.be.blob(ctx, m.Config.Digest)
	if err != nil {
		return record{}, fmt.Errorf("reading entry config %s: %w", m.Config.Digest, err)
	}
	config, err := io.ReadAll(io.LimitReader(rc, m.Config.Size+1))
	rc.Close()
	if err != nil {
		return record{}, fmt.Errorf("reading entry config %s: %w", m.Config.Digest, err)
	}
	if got := digest.FromBytes(config); got != m.Config.Digest {
		return record{}, integrityf("entry config is %s, not %s", got, m.Config.Digest)
	}
	id, sig := m.Annotations[AnnotationKeyID], m.Annotations[AnnotationSignature]
	if err := verify(s.trusted, id, sig, config); err != nil {
		if !s.spec.Insecure || !errors.Is(err, errUntrusted) {
			return record{}, &integrityError{err}
		}
	}
	var rec record
	if err := json.Unmarshal(config, &rec); err != nil {
		return record{}, integrityf("entry config %s: %v", m.Config.Digest, err)
	}
	return rec, nil
}

// download copies the blob d of size bytes (as its signed entry says) into
// a new file in dir, checking its digest. No more than size bytes are
// read: a cache that sends more cannot fill the disk.
func (s *source) download(ctx context.Context, dir string, d digest.Digest, size int64) (string, error) {
	if size < 0 {
		return "", integrityf("blob %s has a negative size", d)
	}
	rc, err := s.be.blob(ctx, d)
	if err != nil {
		return "", fmt.Errorf("downloading blob %s: %w", d, err)
	}
	idle := s.spec.Timeout
	if idle <= 0 {
		idle = defaultHeaderTimeout
	}
	rc = newIdleReader(rc, idle)
	defer rc.Close()
	p := filepath.Join(dir, "blob")
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rc, size+1))
	s.downloaded.Add(n)
	if err == nil && n != size {
		return "", integrityf("blob %s: the cache sent %s bytes, its entry says %d: refused", d, sizeSent(n, size), size)
	}
	if err != nil {
		// go-containerregistry checks digests itself: a mismatch is an
		// integrity error, not a cache that is down.
		if isDigestErr(err) {
			return "", integrityf("blob %s: %v", d, err)
		}
		return "", fmt.Errorf("downloading blob %s: %w", d, err)
	}
	if got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)); got != d {
		return "", integrityf("blob %s has content %s: refused", d, got)
	}
	return p, f.Close()
}

// isDigestErr recognises go-containerregistry's own check of a blob's
// digest, made as it reads.
func isDigestErr(err error) bool {
	return strings.Contains(err.Error(), "error verifying") || strings.Contains(err.Error(), "digest mismatch")
}

// fetchLayer adds the layer l to st unless it is there: its blob is
// downloaded and checked, unpacked, and the tree hashed again, since the
// store trusts the digest it is given.
func (s *source) fetchLayer(ctx context.Context, st *store.Store, l layerRecord) error {
	if ok, err := st.HasLayer(l.Layer); err != nil || ok {
		return err
	}
	tmp, err := st.TempDir("cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := s.download(ctx, tmp, l.Blob, l.BlobSize)
	if err != nil {
		return err
	}
	tree, err := st.TempDir("layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree) // gone already once added
	if err := unpack(p, tree); err != nil {
		return integrityf("layer %s: %v", l.Layer, err)
	}
	got, size, err := layer.Hash(tree)
	if err != nil {
		return err
	}
	if got != l.Layer {
		return integrityf("layer %s unpacks to %s: refused", l.Layer, got)
	}
	return st.AddLayer(tree, l.Layer, store.LayerInfo{Size: size})
}

func unpack(blob, dir string) error {
	f, err := os.Open(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := layer.Decompress(f)
	if err != nil {
		return err
	}
	defer r.Close()
	return layer.Unpack(r, dir)
}

// fetchBlob adds the blob b to st unless it is there, downloaded and
// checked first.
func (s *source) fetchBlob(ctx context.Context, st *store.Store, b blobRecord) error {
	if ok, err := st.HasBlob(b.Digest); err != nil || ok {
		return err
	}
	tmp, err := st.TempDir("cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := s.download(ctx, tmp, b.Digest, b.Size)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, err = st.AddBlob(f, b.Digest)
	return err
}

// idleReader gives up on a body that stops coming: a blob may take long
// to download, but a registry that sends nothing for the timeout is not
// waited for (a stalled body has no other bound once its headers came).
type idleReader struct {
	rc    io.ReadCloser
	idle  time.Duration
	timer *time.Timer
	fired atomic.Bool
}

func newIdleReader(rc io.ReadCloser, idle time.Duration) *idleReader {
	r := &idleReader{rc: rc, idle: idle}
	r.timer = time.AfterFunc(idle, func() {
		r.fired.Store(true)
		rc.Close() // unblocks a Read waiting for data
	})
	return r
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	if err != nil && err != io.EOF && r.fired.Load() {
		err = fmt.Errorf("no data for %s: %w", r.idle, context.DeadlineExceeded)
	}
	return n, err
}

func (r *idleReader) Close() error {
	r.timer.Stop()
	return r.rc.Close()
}

func sizeSent(n, size int64) string {
	if n > size {
		return fmt.Sprintf("more than %d", size)
	}
	return fmt.Sprint(n)
}

func short(d digest.Digest) string {
	h := d.Encoded()
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
