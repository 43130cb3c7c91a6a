package store

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Kinds of store entries, as List and Verify name them.
const (
	KindDerivation = "derivation"
	KindLayer      = "layer"
	KindBlob       = "blob"
)

// KindUsage is a count and a size.
type KindUsage struct {
	Count int
	Bytes int64
}

// Usage is what the store holds, by kind. Layer and blob bytes are their
// recorded sizes (a layer's uncompressed tar size), so computing Usage reads
// only the index, never the object trees.
type Usage struct {
	Derivations KindUsage
	Layers      KindUsage
	Blobs       KindUsage
	Logs        KindUsage
	// Temp is what sits in tmp: work in progress, or leftovers of a crash.
	Temp KindUsage
	// IndexBytes is the size of the badger index on disk.
	IndexBytes int64
}

// Total returns the bytes of layers, blobs, logs and index together.
func (u Usage) Total() int64 {
	return u.Layers.Bytes + u.Blobs.Bytes + u.Logs.Bytes + u.Temp.Bytes + u.IndexBytes
}

// Usage reports what the store holds.
func (s *Store) Usage() (Usage, error) {
	var u Usage
	snap, err := s.snapshot()
	if err != nil {
		return u, err
	}
	u.Derivations.Count = len(snap.records)
	for _, m := range snap.layers {
		u.Layers.Count++
		u.Layers.Bytes += m.size
	}
	for _, m := range snap.blobs {
		u.Blobs.Count++
		u.Blobs.Bytes += m.size
	}
	if u.Logs, err = dirUsage(filepath.Join(s.root, "logs"), false); err != nil {
		return u, err
	}
	if u.Temp, err = dirUsage(s.tmpPath(), false); err != nil {
		return u, err
	}
	idx, err := dirUsage(filepath.Join(s.root, "index"), true)
	if err != nil {
		return u, err
	}
	u.IndexBytes = idx.Bytes
	return u, nil
}

// dirUsage counts the entries of dir and the bytes of the regular files
// beneath it (the top level only, unless deep).
func dirUsage(dir string, deep bool) (KindUsage, error) {
	var u KindUsage
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return u, nil
		}
		return u, fmt.Errorf("measuring %s: %w", dir, err)
	}
	u.Count = len(ents)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // entries can vanish under a concurrent remove
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				u.Bytes += info.Size()
			}
		}
		return nil
	})
	return u, err
}

// Entry is one item of List.
type Entry struct {
	Kind   string
	Digest digest.Digest
	// Size is the recorded size; for a derivation, that of the layers and
	// blob its output names.
	Size    int64
	LastUse time.Time
	// Roots names the GC roots that keep the entry alive.
	Roots []string
	// Files is the entry count of a layer.
	Files int
	// Output is set for derivations.
	Output *Output
}

// List returns the entries of one kind ("derivations", "layers", "blobs",
// singular forms accepted) or of all kinds (""), sorted by kind then digest.
func (s *Store) List(kind string) ([]Entry, error) {
	kind = strings.TrimSuffix(kind, "s")
	switch kind {
	case "", KindDerivation, KindLayer, KindBlob:
	default:
		return nil, fmt.Errorf("listing the store: unknown kind %q: want derivations, layers or blobs", kind)
	}
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	drvRoots, objRoots := snap.rootsOf()
	var out []Entry
	if kind == "" || kind == KindDerivation {
		for d, rec := range snap.records {
			var size int64
			for _, k := range objectsOf(rec) {
				m, _ := snap.object(k)
				size += m.size
			}
			o := rec.out
			out = append(out, Entry{Kind: KindDerivation, Digest: d, Size: size, LastUse: rec.used, Roots: drvRoots[d], Output: &o})
		}
	}
	objects := func(k string, prefix byte, m map[digest.Digest]objectMeta) {
		if kind != "" && kind != k {
			return
		}
		for d, meta := range m {
			out = append(out, Entry{Kind: k, Digest: d, Size: meta.size, LastUse: meta.used, Roots: objRoots[objKey{prefix, d}], Files: int(meta.files)})
		}
	}
	objects(KindLayer, pLayer, snap.layers)
	objects(KindBlob, pBlob, snap.blobs)
	slices.SortFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(string(a.Digest), string(b.Digest))
	})
	return out, nil
}
