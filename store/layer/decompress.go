package layer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	xzMagic   = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// Decompress returns the uncompressed stream of a layer blob, sniffing its
// first bytes rather than trusting a media type: gzip, zstd, or anything
// else as plain tar. Closing the result does not close r. The gzip reader
// checks the stream's CRC at its end, so callers should read to EOF.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("sniffing layer compression: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("opening gzip layer: %w", err)
		}
		// A layer is one gzip member; concatenated members are not valid
		// OCI blobs but are accepted the way gzip(1) does.
		return zr, nil
	case bytes.HasPrefix(head, zstdMagic):
		// One goroutine: decoding speed is bound by unpacking anyway, and
		// the output bytes do not depend on it.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<34))
		if err != nil {
			return nil, fmt.Errorf("opening zstd layer: %w", err)
		}
		return zr.IOReadCloser(), nil
	case bytes.HasPrefix(head, xzMagic):
		return nil, errors.New("layer is xz-compressed, which OCI does not allow; recompress it with gzip or zstd")
	}
	return io.NopCloser(br), nil
}
