package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/fsync"
)

// LayerInfo describes a layer being added.
type LayerInfo struct {
	// Size is the size in bytes of the layer's canonical (uncompressed) tar.
	Size int64
	// Files is the number of entries in the layer.
	Files int
}

// LayerPath returns where the layer named d lives (or would live): a
// directory tree root/layers/<hex>. It returns "" for a digest that is not a
// valid sha256, so that a malformed digest can never name a path outside the
// store.
func (s *Store) LayerPath(d digest.Digest) string { return s.objectPath("layers", d) }

// BlobPath returns where the blob named d lives (or would live):
// root/blobs/<hex>, or "" for a digest that is not a valid sha256.
func (s *Store) BlobPath(d digest.Digest) string { return s.objectPath("blobs", d) }

func (s *Store) objectPath(dir string, d digest.Digest) string {
	if _, err := raw(d); err != nil {
		return ""
	}
	return filepath.Join(s.root, dir, d.Encoded())
}

// HasLayer reports whether the layer d is in the store (indexed).
func (s *Store) HasLayer(d digest.Digest) (bool, error) { return s.has(pLayer, d) }

// HasBlob reports whether the blob d is in the store (indexed).
func (s *Store) HasBlob(d digest.Digest) (bool, error) { return s.has(pBlob, d) }

func (s *Store) has(prefix byte, d digest.Digest) (bool, error) {
	k, err := key(prefix, d)
	if err != nil {
		return false, err
	}
	_, found, err := s.get(k)
	if err != nil {
		return false, fmt.Errorf("reading the store index: %w", err)
	}
	return found[0], nil
}

// AddLayer moves the directory tmpDir (made by TempDir and filled by the
// caller) into the store as the layer d. The tree is synced to disk, renamed
// into place and then indexed, so a crash leaves either no layer or a
// complete one. If the layer is already present, tmpDir is removed and the
// layer's last use is updated. The caller computes d (the sha256 of the
// tree's canonical tar); the store trusts it, and Verify checks it.
func (s *Store) AddLayer(tmpDir string, d digest.Digest, info LayerInfo) error {
	if err := s.writable(); err != nil {
		return err
	}
	k, err := key(pLayer, d)
	if err != nil {
		return fmt.Errorf("adding layer: %w", err)
	}
	abs, err := filepath.Abs(tmpDir)
	if err != nil {
		return fmt.Errorf("adding layer %s: %w", d, err)
	}
	if filepath.Dir(abs) != s.tmpPath() {
		return fmt.Errorf("adding layer %s: %s is not a directory made by TempDir in %s", d, tmpDir, s.tmpPath())
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	defer s.forgetTemp(abs)
	unlock, err := s.lockObject(k)
	if err != nil {
		return fmt.Errorf("adding layer %s: %w", d, err)
	}
	defer unlock()

	if ok, err := s.has(pLayer, d); err != nil {
		return err
	} else if ok {
		s.touchNow(k)
		return removeTree(abs)
	}
	// The canonical tar has no entry for the root, so trees with one digest
	// must not differ there: every layer's root is 0755, what a container's
	// "/" is, instead of TempDir's 0700, which would lock every user but
	// root out of a step's "/" and its input mounts.
	if err := os.Chmod(abs, 0o755); err != nil {
		return fmt.Errorf("adding layer %s: %w", d, err)
	}
	if err := fsync.Tree(abs); err != nil {
		return fmt.Errorf("adding layer %s: syncing %s: %w", d, abs, err)
	}
	dst := s.LayerPath(d)
	if err := os.Rename(abs, dst); err != nil {
		if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
			return fmt.Errorf("adding layer %s: %w", d, err)
		}
		// A crash between rename and index left the tree in place, or
		// another goroutine added it first: adopt what is there, since it
		// is named by its content and was complete before its rename.
		if err := removeTree(abs); err != nil {
			return fmt.Errorf("adding layer %s: removing the duplicate %s: %w", d, abs, err)
		}
	}
	if err := fsync.Dir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("adding layer %s: %w", d, err)
	}
	v := encodeObject(objectMeta{used: s.now(), size: info.Size, files: int64(info.Files)})
	if err := s.write(batch{Set: []entry{{k, v}}}); err != nil {
		return fmt.Errorf("indexing layer %s: %w", d, err)
	}
	return nil
}

// AddBlob streams r into the store and returns its digest and size. When
// expected is not empty and the content's digest differs, AddBlob returns an
// error naming both and stores nothing.
func (s *Store) AddBlob(r io.Reader, expected digest.Digest) (digest.Digest, int64, error) {
	if err := s.writable(); err != nil {
		return "", 0, err
	}
	if expected != "" {
		if _, err := raw(expected); err != nil {
			return "", 0, fmt.Errorf("adding blob: expected %w", err)
		}
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	f, err := s.tempFile("blob-")
	if err != nil {
		return "", 0, err
	}
	tmp := f.Name()
	defer s.forgetTemp(tmp)
	fail := func(err error) (digest.Digest, int64, error) {
		f.Close()
		os.Remove(tmp)
		return "", 0, err
	}
	h := sha256.New()
	w := &blobWriter{f: f, h: h}
	n, err := io.CopyBuffer(w, r, make([]byte, 1<<20))
	if err != nil {
		return fail(fmt.Errorf("adding blob: reading its content: %w", err))
	}
	d := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	if expected != "" && d != expected {
		return fail(fmt.Errorf("adding blob: content has digest %s but %s was expected; nothing was stored", d, expected))
	}
	k, _ := key(pBlob, d)
	unlock, err := s.lockObject(k)
	if err != nil {
		return fail(fmt.Errorf("adding blob %s: %w", d, err))
	}
	defer unlock()
	if ok, err := s.has(pBlob, d); err != nil {
		return fail(err)
	} else if ok {
		s.touchNow(k)
		f.Close()
		os.Remove(tmp)
		return d, n, nil
	}
	if err := f.Chmod(0o444); err != nil {
		return fail(fmt.Errorf("adding blob %s: %w", d, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("adding blob %s: syncing: %w", d, err))
	}
	if err := f.Close(); err != nil {
		return fail(fmt.Errorf("adding blob %s: %w", d, err))
	}
	dst := s.BlobPath(d)
	// Renaming over an unindexed copy left by a crash is fine: same name,
	// same bytes.
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("adding blob %s: %w", d, err)
	}
	if err := fsync.Dir(filepath.Dir(dst)); err != nil {
		return "", 0, fmt.Errorf("adding blob %s: %w", d, err)
	}
	v := encodeObject(objectMeta{used: s.now(), size: n})
	if err := s.write(batch{Set: []entry{{k, v}}}); err != nil {
		return "", 0, fmt.Errorf("indexing blob %s: %w", d, err)
	}
	return d, n, nil
}

// writebackChunk is how much of a blob is written before its writeback
// to disk is started.
const writebackChunk = 8 << 20

// blobWriter writes a blob's temporary file and hashes it, and starts the
// writeback of every chunk it has written (sync_file_range, which does not
// wait): the fsync before the blob is indexed then waits for the last
// chunks only instead of the whole blob, which for a compressed layer is
// written while the encoders still run.
type blobWriter struct {
	f       *os.File
	h       hash.Hash
	n, sent int64
}

func (w *blobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if w.n-w.sent >= writebackChunk {
		// Only a hint: the fsync in AddBlob is what makes the blob
		// durable, so an error (a file system without it) changes nothing.
		_ = unix.SyncFileRange(int(w.f.Fd()), w.sent, w.n-w.sent, unix.SYNC_FILE_RANGE_WRITE)
		w.sent = w.n
	}
	return n, err
}

// lockObject holds the object of index key k for an add or a removal (see
// keylock.go) and makes it a temp root of this process: from here on no
// other process's GC removes it, and this process's own add either finds
// it indexed or renames its tree into a free place.
func (s *Store) lockObject(k []byte) (func(), error) {
	if err := s.proc.pin(k); err != nil {
		return nil, err
	}
	l, err := s.lockKey(context.Background(), k, true)
	if err != nil {
		return nil, err
	}
	return l.unlock, nil
}

// removeTree removes path like os.RemoveAll, also when the tree holds
// directories without write permission (layers keep the modes they were
// built with, and a non-root user cannot delete inside a 0555 directory).
func removeTree(path string) error {
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// discard moves an object out of its place with one atomic rename and then
// deletes it, so that a crash mid-delete leaves junk in tmp (cleaned at the
// next Open) rather than a half-deleted object under its name.
func (s *Store) discard(path string) error {
	tmp, err := os.MkdirTemp(s.tmpPath(), "gc-"+s.token()+"-")
	if err != nil {
		return err
	}
	if err := os.Rename(path, filepath.Join(tmp, "x")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.Remove(tmp)
		return err
	}
	return removeTree(tmp)
}
