// Package exporttest holds the fixtures of export's tests: a
// directory-backed BlobStore and layers made from directory trees with a
// deterministic tar writer, until the store and the layer package are
// plugged in.
package exporttest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/store/layer"
)

// DirStore is a BlobStore in a directory. Adds counts AddBlob calls, so
// tests can tell that a second export compressed nothing.
type DirStore struct {
	Dir  string
	Adds atomic.Int64
}

// NewDirStore makes a DirStore in dir.
func NewDirStore(dir string) *DirStore {
	os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
	os.MkdirAll(filepath.Join(dir, "meta"), 0o755)
	return &DirStore{Dir: dir}
}

func (s *DirStore) metaPath(ns, key string) string {
	h := sha256.Sum256([]byte(ns + "\x00" + key))
	return filepath.Join(s.Dir, "meta", hex.EncodeToString(h[:]))
}

// GetMeta reads a record.
func (s *DirStore) GetMeta(ns, key string) ([]byte, bool, error) {
	b, err := os.ReadFile(s.metaPath(ns, key))
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// PutMeta writes a record.
func (s *DirStore) PutMeta(ns, key string, val []byte) error {
	return os.WriteFile(s.metaPath(ns, key), val, 0o644)
}

// HasBlob tells whether a blob is stored.
func (s *DirStore) HasBlob(d digest.Digest) (bool, error) {
	_, err := os.Stat(s.BlobPath(d))
	if os.IsNotExist(err) {
		return false, nil
	}
	return err == nil, err
}

// BlobPath is where a blob is stored.
func (s *DirStore) BlobPath(d digest.Digest) string {
	return filepath.Join(s.Dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// AddBlob stores r under its digest, checking expected when given.
func (s *DirStore) AddBlob(r io.Reader, expected digest.Digest) (digest.Digest, int64, error) {
	s.Adds.Add(1)
	f, err := os.CreateTemp(s.Dir, "tmp-")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, err
	}
	d := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	if expected != "" && d != expected {
		return "", 0, fmt.Errorf("blob is %s, expected %s", d, expected)
	}
	return d, n, os.Rename(f.Name(), s.BlobPath(d))
}

// Layer is an uncompressed layer held in memory.
type Layer struct{ Tar []byte }

// DiffID is the tar's sha256.
func (l *Layer) DiffID() digest.Digest { return digest.FromBytes(l.Tar) }

// Size is the tar's length.
func (l *Layer) Size() int64 { return int64(len(l.Tar)) }

// Open streams the tar.
func (l *Layer) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l.Tar)), nil }

// Entry is one entry of a layer built by TarOf.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg, TypeDir, TypeSymlink
	Mode     int64
	Data     string
	Linkname string
}

// TarOf writes entries, sorted by name, as a canonical tar: PAX, uid/gid
// 0, no names, mtime at epoch.
func TarOf(epoch int64, entries ...Entry) *Layer {
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Linkname, ModTime: time.Unix(epoch, 0), Format: tar.FormatPAX}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(err) // fixtures are the test's own constants
		}
		tw.Write([]byte(e.Data))
	}
	tw.Close()
	return &Layer{Tar: b.Bytes()}
}

// DirLayer writes the tree at dir as a canonical tar: paths sorted, no
// leading ./, numeric uid/gid as on disk, empty user and group names, modes
// as on disk, mtimes clamped to epoch, PAX format.
func DirLayer(dir string, epoch int64) (*Layer, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	clamp := time.Unix(epoch, 0)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return nil, err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		h.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uname, h.Gname = "", ""
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			h.Uid, h.Gid = int(st.Uid), int(st.Gid)
		}
		if h.ModTime.After(clamp) {
			h.ModTime = clamp
		}
		h.ModTime = h.ModTime.Truncate(time.Second)
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			tw.Write(data)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &Layer{Tar: b.Bytes()}, nil
}

// TreeLayer is a layer tree as the store holds one: its canonical tar is
// the layer package's, and it is an export.FileLayer, so an uncompressed
// export writes it straight into its output.
type TreeLayer struct {
	Dir    string
	diffID digest.Digest
}

// NewTreeLayer hashes the tree at dir.
func NewTreeLayer(dir string) (*TreeLayer, error) {
	d, _, err := layer.Hash(dir)
	if err != nil {
		return nil, err
	}
	return &TreeLayer{Dir: dir, diffID: d}, nil
}

// DiffID is the tree's diff_id when NewTreeLayer hashed it.
func (l *TreeLayer) DiffID() digest.Digest { return l.diffID }

// Size is unknown until the tar is written or laid out.
func (l *TreeLayer) Size() int64 { return -1 }

// Open streams the canonical tar.
func (l *TreeLayer) Open() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(layer.WriteTar(pw, l.Dir)) }()
	return pr, nil
}

// TarSize and WriteTarFile make it an export.FileLayer: an uncompressed
// export writes its tar straight into the output.
func (l *TreeLayer) TarSize() (int64, error) { return layer.TarSize(l.Dir) }

func (l *TreeLayer) WriteTarFile(f *os.File) (digest.Digest, int64, error) {
	return layer.WriteTarFile(f, l.Dir)
}
