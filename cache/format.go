package cache

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media and artifact types of the format (see the package documentation).
const (
	EntryType       = "application/vnd.kiln.cache.entry.v1"
	EntryConfigType = "application/vnd.kiln.cache.entry.config.v1+json"
	blobType        = "application/octet-stream"

	AnnotationKeys      = "dev.kiln.cache.keys"
	AnnotationKeyID     = "dev.kiln.cache.key-id"
	AnnotationSignature = "dev.kiln.cache.signature"
)

// record is an entry's config: everything an import needs to put one
// output into a store. It is what is signed.
type record struct {
	// Keys are the derivation digest and, when the derivation has inputs,
	// its resolved key.
	Keys   []digest.Digest   `json:"keys"`
	Layers []layerRecord     `json:"layers"`
	Blobs  []blobRecord      `json:"blobs,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`
	// DurationMS is how long the output took to build where it was.
	DurationMS int64 `json:"durationMS,omitempty"`
	// Chain are the outputs of the states this one was built on (see
	// Entry.Chain); their layers are among Layers.
	Chain []chainRecord `json:"chain,omitempty"`
}

// chainRecord is the output of a state below an entry's.
type chainRecord struct {
	Key        digest.Digest     `json:"key"`
	Layers     []digest.Digest   `json:"layers"`
	Blobs      []blobRecord      `json:"blobs,omitempty"`
	Meta       map[string]string `json:"meta,omitempty"`
	DurationMS int64             `json:"durationMS,omitempty"`
}

// layerRecord ties a kiln layer (the sha256 of its canonical tar) to the
// compressed blob holding that tar.
type layerRecord struct {
	Layer digest.Digest `json:"layer"`
	Size  int64         `json:"size"` // of the canonical tar
	Blob  digest.Digest `json:"blob"`
	// BlobSize is the compressed size.
	BlobSize int64 `json:"blobSize"`
}

type blobRecord struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// entryManifest builds the manifest of rec, whose encoding is config.
func entryManifest(rec record, config []byte, annotations map[string]string) ([]byte, error) {
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: EntryType,
		Config:       ocispec.Descriptor{MediaType: EntryConfigType, Digest: digest.FromBytes(config), Size: int64(len(config))},
		Annotations:  annotations,
	}
	m.SchemaVersion = 2
	for _, l := range rec.Layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: l.Blob, Size: l.BlobSize})
	}
	for _, b := range rec.Blobs {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: blobType, Digest: b.Digest, Size: b.Size})
	}
	return json.Marshal(m)
}

// index is a cache index: entry descriptors, and which keys each answers.
type index struct {
	m     ocispec.Index
	byKey map[digest.Digest]int
}

func newIndex() *index {
	ix := &index{byKey: map[digest.Digest]int{}}
	ix.m.SchemaVersion = 2
	ix.m.MediaType = ocispec.MediaTypeImageIndex
	ix.m.ArtifactType = EntryType
	return ix
}

func parseIndex(raw []byte) (*index, error) {
	ix := newIndex()
	if err := json.Unmarshal(raw, &ix.m); err != nil {
		return nil, fmt.Errorf("reading the cache index: %w", err)
	}
	ix.reindex()
	return ix, nil
}

func (ix *index) reindex() {
	ix.byKey = map[digest.Digest]int{}
	for i, d := range ix.m.Manifests {
		for _, k := range entryKeys(d) {
			ix.byKey[k] = i
		}
	}
}

func entryKeys(d ocispec.Descriptor) []digest.Digest {
	var ks []digest.Digest
	for _, f := range strings.Fields(d.Annotations[AnnotationKeys]) {
		if k := digest.Digest(f); k.Validate() == nil {
			ks = append(ks, k)
		}
	}
	return ks
}

// lookup returns the descriptor of the entry answering key.
func (ix *index) lookup(key digest.Digest) (ocispec.Descriptor, bool) {
	i, ok := ix.byKey[key]
	if !ok {
		return ocispec.Descriptor{}, false
	}
	return ix.m.Manifests[i], true
}

// add puts d in the index, replacing entries for the same keys whose
// every key d also answers.
func (ix *index) add(d ocispec.Descriptor) bool {
	keys := entryKeys(d)
	covered := map[digest.Digest]bool{}
	for _, k := range keys {
		covered[k] = true
	}
	var kept []ocispec.Descriptor
	for _, old := range ix.m.Manifests {
		if old.Digest == d.Digest {
			return false
		}
		all := true
		for _, k := range entryKeys(old) {
			all = all && covered[k]
		}
		if !all {
			kept = append(kept, old)
		}
	}
	ix.m.Manifests = append(kept, d)
	ix.reindex()
	return true
}

// has reports whether d is listed.
func (ix *index) has(d digest.Digest) bool {
	for _, m := range ix.m.Manifests {
		if m.Digest == d {
			return true
		}
	}
	return false
}

func (ix *index) encode() ([]byte, error) { return json.Marshal(ix.m) }
