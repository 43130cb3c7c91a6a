package compress

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// zstdWindow is zstd's window; klauspost's job-based parallel encoder sizes
// its jobs from it, so it too is part of the output format.
const zstdWindow = 4 << 20

// zstdConcurrency is fixed, never the core count: with 1 the encoder
// switches to its serial path, which writes other bytes.
const zstdConcurrency = 4

// zstdCompressor writes zstd with every encoder option pinned.
type zstdCompressor struct{}

var _ Streamer = zstdCompressor{}

func (zstdCompressor) Type() Type { return Zstd }

func (zstdCompressor) Level(level int) (int, error) {
	return levelIn(Zstd, level, DefaultZstdLevel, 1, 22)
}

func (zstdCompressor) MediaType() string { return ocispec.MediaTypeImageLayerZstd }

func (zstdCompressor) Matches(mediaType string, annotations map[string]string) bool {
	return mediaType == ocispec.MediaTypeImageLayerZstd && !hasTOC(annotations)
}

func (zstdCompressor) Stream(dst io.Writer, src io.Reader, level int) (int64, error) {
	return zstdStream(dst, src, level)
}

// zstdOptions pins every encoder option: the defaults of several depend on
// the level, the core count or the input, and a library default may move.
func zstdOptions(level int) []zstd.EOption {
	return []zstd.EOption{
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(zstdConcurrency),
		zstd.WithConcurrentBlocks(true),
		zstd.WithWindowSize(zstdWindow),
		zstd.WithEncoderCRC(true),
		zstd.WithEncoderPadding(1),
		zstd.WithZeroFrames(true),
		zstd.WithAllLitEntropyCompression(true),
		zstd.WithNoEntropyCompression(false),
		zstd.WithSingleSegment(false),
		zstd.WithLowerEncoderMem(false),
	}
}

// zstdStream feeds the encoder through a fixed 1 MiB buffer filled to the
// brim, so how src happens to split its reads cannot reach the output.
func zstdStream(dst io.Writer, src io.Reader, level int) (int64, error) {
	enc, err := zstd.NewWriter(dst, zstdOptions(level)...)
	if err != nil {
		return 0, fmt.Errorf("creating zstd encoder: %w", err)
	}
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			total += int64(n)
			if _, err := enc.Write(buf[:n]); err != nil {
				enc.Close()
				return 0, fmt.Errorf("compressing zstd: %w", err)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			enc.Close()
			return 0, fmt.Errorf("reading layer: %w", rerr)
		}
	}
	if err := enc.Close(); err != nil {
		return 0, fmt.Errorf("compressing zstd: %w", err)
	}
	return total, nil
}
