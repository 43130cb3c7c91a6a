package compress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// GzipBlockSize is the size of the independently deflated gzip blocks. It
// is part of the output format: changing it changes every gzip digest.
const GzipBlockSize = 1 << 20

// gzipCompressor writes one gzip member from blocks deflated in parallel.
type gzipCompressor struct{}

var _ Streamer = gzipCompressor{}

func (gzipCompressor) Type() Type { return Gzip }

func (gzipCompressor) Level(level int) (int, error) {
	return levelIn(Gzip, level, DefaultGzipLevel, 1, 9)
}

func (gzipCompressor) MediaType() string { return ocispec.MediaTypeImageLayerGzip }

func (gzipCompressor) Matches(mediaType string, annotations map[string]string) bool {
	return mediaType == ocispec.MediaTypeImageLayerGzip && !hasTOC(annotations)
}

func (gzipCompressor) Stream(dst io.Writer, src io.Reader, level int) (int64, error) {
	return gzipParallel(dst, src, level)
}

// gzipHeader is the fixed member header: no name, no comment, MTIME 0,
// XFL 0 and OS 255 (unknown), so nothing about the host enters the bytes.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// finalBlock is an empty fixed-Huffman deflate block with BFINAL set; it
// closes the stream after the last sync-flushed block, so the output does
// not depend on whether the input length is a multiple of the block size.
var finalBlock = []byte{0x03, 0x00}

// gzipParallel writes one gzip member whose deflate stream is the
// concatenation of independently deflated, sync-flushed blocks.
func gzipParallel(dst io.Writer, src io.Reader, level int) (int64, error) {
	if _, err := dst.Write(gzipHeader); err != nil {
		return 0, err
	}
	crc := crc32.NewIEEE()
	total, err := parallelBlocks(dst, src, GzipBlockSize, 32<<10, func(out *bytes.Buffer, in, dict []byte) error {
		if err := deflateBlock(out, in, dict, level); err != nil {
			return fmt.Errorf("deflating: %w", err)
		}
		return nil
	}, func(in []byte) { crc.Write(in) })
	if err != nil {
		return 0, err
	}
	var trailer [10]byte
	copy(trailer[:], finalBlock)
	binary.LittleEndian.PutUint32(trailer[2:], crc.Sum32())
	binary.LittleEndian.PutUint32(trailer[6:], uint32(total))
	if _, err := dst.Write(trailer[:]); err != nil {
		return 0, err
	}
	return total, nil
}

// deflateBlock deflates one block at level, primed with dict, and ends it
// on a sync flush. klauspost's levels 1-6 store a 64 KiB window outright
// when they find no match in it, which on base64 and other text of few
// distinct bytes without repeats wastes the quarter that Huffman coding
// alone gains (`gzip -6` would write 76%, they write 100%). So a block that
// came out larger than 7/8 of its input is also Huffman-coded, and the
// smaller of the two is kept: a choice made from the block's content alone,
// so the bytes stay independent of the core count. New in FormatVersion 2.
func deflateBlock(out *bytes.Buffer, in, dict []byte, level int) error {
	if err := deflateInto(out, in, dict, level); err != nil {
		return err
	}
	if out.Len() <= len(in)-len(in)>>3 {
		return nil
	}
	var huff bytes.Buffer
	huff.Grow(out.Len())
	if err := deflateInto(&huff, in, nil, flate.HuffmanOnly); err != nil {
		return err
	}
	if huff.Len() < out.Len() {
		out.Reset()
		out.Write(huff.Bytes())
	}
	return nil
}

func deflateInto(out *bytes.Buffer, in, dict []byte, level int) error {
	w, err := flate.NewWriterDict(out, level, dict)
	if err == nil {
		_, err = w.Write(in)
	}
	if err == nil {
		err = w.Flush()
	}
	return err
}
