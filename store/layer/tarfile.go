package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// TarPlan is a layer's canonical tar laid out before it is written: the
// headers encoded, each file's content named by its path and size. Its
// size is known before a byte is written, and WriteFile has the kernel
// copy the contents into the output (copy_file_range), so they never pass
// through the process: an uncompressed export writes its blob that way.
// The bytes are WriteTar's, by construction: both come from one walk, and
// archive/tar encodes a header the same whatever came before it.
type TarPlan struct {
	parts   []tarPart
	pending []byte // bytes after the last file: padding, headers
	pad     int64  // the last file's padding, not yet in pending
	size    int64
}

// tarPart is some bytes (padding and headers) and then, unless path is
// empty, size bytes of the file at path.
type tarPart struct {
	head []byte
	path string
	size int64
}

// blockSize is tar's block: every entry's content is padded to it.
const blockSize = 512

// PlanTar lays out the canonical tar of the layer tree dir (see WriteTar).
// The tree must not change until the plan is written.
func PlanTar(dir string) (*TarPlan, error) {
	t := &tarWriter{plan: &TarPlan{}, root: dir, links: map[[2]uint64]string{}}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return nil, fmt.Errorf("writing layer tar: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, fmt.Errorf("writing layer tar: %s is not a directory", dir)
	}
	if err := t.dir(dir, "", &st); err != nil {
		return nil, fmt.Errorf("writing layer tar of %s: %w", dir, err)
	}
	p := t.plan
	// tar.Writer's Close: the last padding and two zero blocks.
	p.padding()
	p.pending = append(p.pending, make([]byte, 2*blockSize)...)
	p.parts = append(p.parts, tarPart{head: p.pending})
	p.size += int64(len(p.pending))
	p.pending = nil
	return p, nil
}

// Size is the tar's length in bytes.
func (p *TarPlan) Size() int64 { return p.size }

func (p *TarPlan) padding() {
	p.pending = append(p.pending, make([]byte, p.pad)...)
	p.pad = 0
}

// header appends hdr's encoding. A fresh tar.Writer encodes it as the
// streaming one does: the encoding depends on the header alone.
func (p *TarPlan) header(hdr *tar.Header) error {
	p.padding()
	b := bytes.NewBuffer(p.pending)
	if err := tar.NewWriter(b).WriteHeader(hdr); err != nil {
		return err
	}
	p.pending = b.Bytes()
	return nil
}

// content appends the size bytes of the file at path, after the header
// just added.
func (p *TarPlan) content(path string, size int64) {
	p.parts = append(p.parts, tarPart{head: p.pending, path: path, size: size})
	p.size += int64(len(p.pending)) + size
	p.pending = nil
	p.pad = -size & (blockSize - 1)
}

// WriteFile writes the tar into f at its offset, which must be 0 (a new
// file), and returns the tar's sha256. The contents are copied by the
// kernel while another goroutine reads them again and hashes the stream,
// so the copy and the hash take the time of the longer one.
func (p *TarPlan) WriteFile(f *os.File) (digest.Digest, error) {
	sum := make(chan hashResult, 1)
	stop := make(chan struct{})
	go func() { sum <- p.hash(stop) }()
	err := p.copyInto(f)
	if err != nil {
		close(stop)
	}
	h := <-sum
	if err != nil {
		return "", err
	}
	if h.err != nil {
		return "", h.err
	}
	return h.d, nil
}

type hashResult struct {
	d   digest.Digest
	err error
}

func (p *TarPlan) copyInto(f *os.File) error {
	var written int64
	for _, part := range p.parts {
		if _, err := f.Write(part.head); err != nil {
			return fmt.Errorf("writing layer tar: %w", err)
		}
		written += int64(len(part.head))
		if part.path == "" {
			continue
		}
		src, err := os.OpenFile(part.path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return fmt.Errorf("writing layer tar: %w", err)
		}
		// *os.File's ReadFrom copies with copy_file_range (or splice) for
		// a file limited to size bytes, and by read and write where the
		// file systems allow neither.
		n, err := f.ReadFrom(io.LimitReader(src, part.size))
		src.Close()
		if err != nil {
			return fmt.Errorf("writing layer tar: copying %s: %w", part.path, err)
		}
		if n != part.size {
			return fmt.Errorf("writing layer tar: %s shrank from %d to %d bytes while being read; layers must not change while they are exported", part.path, part.size, n)
		}
		written += n
	}
	if written != p.size {
		return fmt.Errorf("writing layer tar: wrote %d bytes, laid out %d", written, p.size)
	}
	return nil
}

// hash reads the plan's bytes as copyInto writes them and hashes them,
// stopping early when stop closes.
func (p *TarPlan) hash(stop <-chan struct{}) hashResult {
	h := sha256.New()
	buf := make([]byte, copyBufSize)
	for _, part := range p.parts {
		select {
		case <-stop:
			return hashResult{err: fmt.Errorf("hashing layer tar: stopped")}
		default:
		}
		h.Write(part.head)
		if part.path == "" {
			continue
		}
		src, err := os.OpenFile(part.path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return hashResult{err: fmt.Errorf("hashing layer tar: %w", err)}
		}
		n, err := io.CopyBuffer(h, io.LimitReader(src, part.size), buf)
		src.Close()
		if err != nil {
			return hashResult{err: fmt.Errorf("hashing layer tar: reading %s: %w", part.path, err)}
		}
		if n != part.size {
			return hashResult{err: fmt.Errorf("hashing layer tar: %s shrank from %d to %d bytes while being read; layers must not change while they are exported", part.path, part.size, n)}
		}
	}
	return hashResult{d: digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))}
}
