package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/export/compress"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

// Entry is one output to export and the keys it answers: its derivation
// digest first, then its resolved key when it has one.
type Entry struct {
	Keys   []digest.Digest
	Output store.Output
	// Chain are the outputs of the states Output was built on, by
	// derivation digest: exporting an image reads them (the history of
	// each layer, the base image's config and blobs), so an import
	// records them with the entry. Their layers are among Output's, so
	// this costs no download but their blobs.
	Chain map[digest.Digest]store.Output
}

// ExportReport says what an export sent.
type ExportReport struct {
	// Entries were added to the index; Skipped were there already.
	Entries, Skipped int
}

// openExport opens the backend of an export; tests slow it down.
var openExport = open

// metaNamespace keeps, per layer, its gzip'ed blob in the store, so that
// a second export compresses nothing.
const metaNamespace = "cache.blob"

// blobKey is layer l's record under metaNamespace. The compression's
// format version is part of it, so a blob an older kiln compressed is not
// pushed for what this one writes.
func blobKey(l digest.Digest) string {
	return string(l) + "+f" + strconv.Itoa(compress.FormatVersion)
}

// Export pushes entries to the cache spec names, signed with spec.Key
// when given, sending only blobs the cache lacks, then merges them into
// the cache's index.
func Export(ctx context.Context, st *store.Store, spec Spec, entries []Entry) (ExportReport, error) {
	var rep ExportReport
	var key *PrivateKey
	if spec.Key != "" {
		k, err := LoadPrivateKey(spec.Key)
		if err != nil {
			return rep, fmt.Errorf("--cache-to %s: %w", spec, err)
		}
		key = &k
	}
	be, err := openExport(spec)
	if err != nil {
		return rep, err
	}
	ix, err := readIndex(ctx, be)
	if err != nil {
		return rep, err
	}
	var added []ocispec.Descriptor
	for _, e := range entries {
		if present(ix, e, key) {
			rep.Skipped++
			continue
		}
		d, err := pushEntry(ctx, st, be, e, key)
		if err != nil {
			return rep, fmt.Errorf("exporting %s: %w", e.Keys[0], err)
		}
		added = append(added, d)
	}
	rep.Entries = len(added)
	if len(added) == 0 {
		return rep, nil
	}
	return rep, mergeIndex(ctx, be, added)
}

func readIndex(ctx context.Context, be backend) (*index, error) {
	raw, err := be.index(ctx)
	if errors.Is(err, errNotFound) {
		return newIndex(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the cache index: %w", err)
	}
	return parseIndex(raw)
}

// present reports whether the index answers every key of e with an entry
// signed by the same key: outputs are reproducible, so the entry there
// holds what this one would.
func present(ix *index, e Entry, key *PrivateKey) bool {
	id := ""
	if key != nil {
		id = key.ID()
	}
	for _, k := range e.Keys {
		d, ok := ix.lookup(k)
		if !ok || d.Annotations[AnnotationKeyID] != id {
			return false
		}
	}
	return true
}

// answers reports whether the index answers every key of d with an entry
// of d's signer: that entry or an equivalent one (outputs are
// reproducible), which a concurrent export of the same derivation wrote.
func answers(ix *index, d ocispec.Descriptor) bool {
	for _, k := range entryKeys(d) {
		e, ok := ix.lookup(k)
		if !ok || e.Annotations[AnnotationKeyID] != d.Annotations[AnnotationKeyID] {
			return false
		}
	}
	return true
}

// mergeIndex adds entries to the index and writes it, then reads it back.
// A registry cannot replace a tag only if it is unchanged, so two exports
// to the same tag race: the index is read again right before each write
// (the one read when the export began is minutes old after a big push),
// which leaves only the round trip between that read and the write for
// another export's write to fall into; and after writing, each export
// waits longer than that round trip took before reading back, so that a
// write it would have lost lands first and is seen, and its entries are
// merged in again.
func mergeIndex(ctx context.Context, be backend, added []ocispec.Descriptor) error {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		ix, err := readIndex(ctx, be)
		if err != nil {
			return err
		}
		for _, d := range added {
			// An equivalent entry a concurrent export wrote stays: replacing
			// it would make that export write again.
			if !answers(ix, d) {
				ix.add(d)
			}
		}
		raw, err := ix.encode()
		if err != nil {
			return err
		}
		if err := be.putIndex(ctx, raw); err != nil {
			return fmt.Errorf("writing the cache index: %w", err)
		}
		wait := max(2*time.Since(start), 50*time.Millisecond) + time.Duration(rand.IntN(100))*time.Millisecond
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		if ix, err = readIndex(ctx, be); err != nil {
			return err
		}
		missing := false
		for _, d := range added {
			missing = missing || !answers(ix, d)
		}
		if !missing {
			return nil
		}
		if attempt == 5 {
			return errors.New("writing the cache index: other exports to the same ref kept replacing it; try again")
		}
	}
}

// pushEntry pushes the blobs of e, then its config and manifest, and
// returns the manifest's descriptor for the index.
func pushEntry(ctx context.Context, st *store.Store, be backend, e Entry, key *PrivateKey) (ocispec.Descriptor, error) {
	rec := record{Keys: e.Keys, DurationMS: e.Output.DurationMS, Meta: entryMeta(e.Output.Meta)}
	for _, l := range e.Output.Layers {
		lr, err := layerBlob(st, l)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		if err := pushStoreBlob(ctx, st, be, lr.Blob, lr.BlobSize); err != nil {
			return ocispec.Descriptor{}, err
		}
		rec.Layers = append(rec.Layers, lr)
	}
	var err error
	if rec.Blobs, err = pushBlobs(ctx, st, be, e.Output.Blobs); err != nil {
		return ocispec.Descriptor{}, err
	}
	for _, k := range slices.Sorted(maps.Keys(e.Chain)) {
		out := e.Chain[k]
		cr := chainRecord{Key: k, Layers: out.Layers, Meta: entryMeta(out.Meta), DurationMS: out.DurationMS}
		if cr.Blobs, err = pushBlobs(ctx, st, be, out.Blobs); err != nil {
			return ocispec.Descriptor{}, err
		}
		rec.Chain = append(rec.Chain, cr)
	}
	config, err := json.Marshal(rec)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cd := digest.FromBytes(config)
	if err := be.putBlob(ctx, cd, int64(len(config)), func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(config)), nil
	}); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing entry config: %w", err)
	}
	ann := map[string]string{}
	if key != nil {
		ann[AnnotationKeyID] = key.ID()
		ann[AnnotationSignature] = key.sign(config)
	}
	raw, err := entryManifest(rec, config, ann)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	md := digest.FromBytes(raw)
	if err := be.putManifest(ctx, md, raw); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing entry manifest: %w", err)
	}
	keys := ""
	for i, k := range e.Keys {
		if i > 0 {
			keys += " "
		}
		keys += string(k)
	}
	idx := map[string]string{AnnotationKeys: keys}
	if key != nil {
		idx[AnnotationKeyID] = key.ID()
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: EntryType, Digest: md, Size: int64(len(raw)), Annotations: idx}, nil
}

// entryMeta is an output's metadata as an entry carries it: where the
// output came from is this store's business, not the entry's.
func entryMeta(m map[string]string) map[string]string {
	m = maps.Clone(m)
	delete(m, realize.MetaOrigin)
	if len(m) == 0 {
		return nil
	}
	return m
}

func pushBlobs(ctx context.Context, st *store.Store, be backend, ds []digest.Digest) ([]blobRecord, error) {
	var recs []blobRecord
	for _, b := range ds {
		fi, err := os.Stat(st.BlobPath(b))
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", b, err)
		}
		if err := pushStoreBlob(ctx, st, be, b, fi.Size()); err != nil {
			return nil, err
		}
		recs = append(recs, blobRecord{Digest: b, Size: fi.Size()})
	}
	return recs, nil
}

func pushStoreBlob(ctx context.Context, st *store.Store, be backend, d digest.Digest, size int64) error {
	err := be.putBlob(ctx, d, size, func() (io.ReadCloser, error) { return os.Open(st.BlobPath(d)) })
	if err != nil {
		return fmt.Errorf("pushing blob %s: %w", d, err)
	}
	return nil
}

// layerBlob returns the gzip'ed canonical tar of the layer l as a store
// blob, compressing it the first time. gzip as kiln writes it is
// byte-identical everywhere, so two machines push the same blob.
func layerBlob(st *store.Store, l digest.Digest) (layerRecord, error) {
	key := blobKey(l)
	if raw, ok, err := st.GetMeta(metaNamespace, key); err != nil {
		return layerRecord{}, err
	} else if ok {
		var lr layerRecord
		if json.Unmarshal(raw, &lr) == nil && lr.Blob.Validate() == nil {
			if has, err := st.HasBlob(lr.Blob); err == nil && has {
				return lr, nil
			}
		}
	}
	pr, pw := io.Pipe()
	var size int64
	go func() {
		tr, tw := io.Pipe()
		go func() { tw.CloseWithError(layer.WriteTar(tw, st.LayerPath(l))) }()
		c := &counter{r: tr}
		_, err := compress.Compress(pw, c, compress.Gzip, 0)
		tr.CloseWithError(io.ErrClosedPipe)
		size = c.n
		pw.CloseWithError(err)
	}()
	d, n, err := st.AddBlob(pr, "")
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return layerRecord{}, fmt.Errorf("compressing layer %s: %w", l, err)
	}
	lr := layerRecord{Layer: l, Size: size, Blob: d, BlobSize: n}
	raw, err := json.Marshal(lr)
	if err != nil {
		return layerRecord{}, err
	}
	return lr, st.PutMeta(metaNamespace, key, raw)
}

type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
