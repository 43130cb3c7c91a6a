package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// blockSize is tar's block: every entry's content is padded to it.
const blockSize = 512

// headChunk is the most header bytes a layout holds before handing them
// on, so that a tree of many entries without content (directories,
// symlinks) is laid out in bounded memory.
const headChunk = 1 << 20

// tarPart is a run of the tar: some bytes (padding, headers) and then,
// unless path is empty, size bytes of the file at path.
type tarPart struct {
	head []byte
	path string
	size int64
}

// layout turns the walk of WriteTar into parts: the headers encoded, each
// file's content named by its path and size. The bytes are WriteTar's by
// construction: both come from one walk, and archive/tar encodes a header
// the same whatever came before it.
type layout struct {
	pending []byte // bytes since the last part: padding, headers
	pad     int64  // the last file's padding, not yet in pending
	size    int64
	emit    func(tarPart) error
}

func (l *layout) padding() {
	l.pending = append(l.pending, make([]byte, l.pad)...)
	l.pad = 0
}

// header appends hdr's encoding: a fresh tar.Writer encodes it as the
// streaming one does.
func (l *layout) header(hdr *tar.Header) error {
	l.padding()
	b := bytes.NewBuffer(l.pending)
	if err := tar.NewWriter(b).WriteHeader(hdr); err != nil {
		return err
	}
	l.pending = b.Bytes()
	if len(l.pending) >= headChunk {
		return l.part("", 0)
	}
	return nil
}

// content adds the size bytes of the file at path, after the header just
// added.
func (l *layout) content(path string, size int64) error {
	if err := l.part(path, size); err != nil {
		return err
	}
	l.pad = -size & (blockSize - 1)
	return nil
}

func (l *layout) part(path string, size int64) error {
	p := tarPart{head: l.pending, path: path, size: size}
	l.size += int64(len(p.head)) + size
	l.pending = nil
	return l.emit(p)
}

// finish adds tar.Writer's Close: the last padding and two zero blocks.
func (l *layout) finish() error {
	l.padding()
	l.pending = append(l.pending, make([]byte, 2*blockSize)...)
	return l.part("", 0)
}

// walkLayout lays out the canonical tar of the layer tree dir, handing
// each part to emit in order.
func walkLayout(dir string, emit func(tarPart) error) (int64, error) {
	l := &layout{emit: emit}
	t := &tarWriter{lay: l, root: dir, links: map[[2]uint64]string{}}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return 0, fmt.Errorf("writing layer tar: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, fmt.Errorf("writing layer tar: %s is not a directory", dir)
	}
	if err := t.dir(dir, "", &st); err != nil {
		return 0, fmt.Errorf("writing layer tar of %s: %w", dir, err)
	}
	if err := l.finish(); err != nil {
		return 0, err
	}
	return l.size, nil
}

// TarSize returns the size in bytes of the canonical tar of the layer tree
// dir without writing it: one walk of the tree, no file read.
func TarSize(dir string) (int64, error) {
	return walkLayout(dir, func(tarPart) error { return nil })
}

// errStopped ends a walk whose writer or hasher failed.
var errStopped = errors.New("stopped")

// WriteTarFile writes the canonical tar of the layer tree dir into f,
// which must be a new file, and returns the tar's sha256 and size: the
// bytes of WriteTar, but the file contents are copied by the kernel
// (copy_file_range), so they never pass through the process, while
// another goroutine reads them again and hashes the stream. The copy and
// the hash take the time of the longer one. Memory stays bounded: the
// walk hands parts to both through short queues.
func WriteTarFile(f *os.File, dir string) (digest.Digest, int64, error) {
	var failed atomic.Bool
	var werr, herr error
	var written int64
	h := sha256.New()
	toWrite, toHash := make(chan tarPart, 64), make(chan tarPart, 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for p := range toWrite {
			if werr == nil {
				var n int64
				n, werr = writePart(f, p)
				written += n
				if werr != nil {
					failed.Store(true)
				}
			}
		}
	})
	wg.Go(func() {
		buf := make([]byte, copyBufSize)
		for p := range toHash {
			if herr == nil {
				if herr = hashPart(h, p, buf); herr != nil {
					failed.Store(true)
				}
			}
		}
	})
	size, err := walkLayout(dir, func(p tarPart) error {
		if failed.Load() {
			return errStopped
		}
		toWrite <- p
		toHash <- p
		return nil
	})
	close(toWrite)
	close(toHash)
	wg.Wait()
	switch {
	case werr != nil:
		return "", 0, werr
	case herr != nil:
		return "", 0, herr
	case err != nil:
		return "", 0, err
	case written != size:
		return "", 0, fmt.Errorf("writing layer tar of %s: wrote %d bytes, laid out %d", dir, written, size)
	}
	return digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), size, nil
}

// writePart writes p into f: its bytes, then its file's content copied by
// *os.File's ReadFrom, which uses copy_file_range (or splice) for a file
// limited to size bytes, and read and write where neither works.
func writePart(f *os.File, p tarPart) (int64, error) {
	if _, err := f.Write(p.head); err != nil {
		return 0, fmt.Errorf("writing layer tar: %w", err)
	}
	if p.path == "" {
		return int64(len(p.head)), nil
	}
	src, err := os.OpenFile(p.path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return 0, fmt.Errorf("writing layer tar: %w", err)
	}
	defer src.Close()
	n, err := f.ReadFrom(io.LimitReader(src, p.size))
	if err != nil {
		return 0, fmt.Errorf("writing layer tar: copying %s: %w", p.path, err)
	}
	if n != p.size {
		return 0, shrank(p, n)
	}
	return int64(len(p.head)) + n, nil
}

// hashPart hashes p's bytes and reads its file's content into h.
func hashPart(h io.Writer, p tarPart, buf []byte) error {
	h.Write(p.head)
	if p.path == "" {
		return nil
	}
	src, err := os.OpenFile(p.path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("hashing layer tar: %w", err)
	}
	defer src.Close()
	n, err := io.CopyBuffer(h, io.LimitReader(src, p.size), buf)
	if err != nil {
		return fmt.Errorf("hashing layer tar: reading %s: %w", p.path, err)
	}
	if n != p.size {
		return shrank(p, n)
	}
	return nil
}

func shrank(p tarPart, n int64) error {
	return fmt.Errorf("writing layer tar: %s shrank from %d to %d bytes while being read; layers must not change while they are exported", p.path, p.size, n)
}
