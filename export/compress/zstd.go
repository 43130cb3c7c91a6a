package compress

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// zstdWindow is zstd's window. It is part of the output format: the
// frame header records it.
const zstdWindow = 4 << 20

// ZstdFrameSize is the input of each zstd frame. Frames are encoded on
// their own, in parallel, and concatenated, which every zstd decoder reads
// as one stream; the frame boundaries, not the worker count, decide the
// bytes. It is part of the output format: changing it changes every zstd
// digest. 8 MiB loses about 0.2% against one frame on text (matches do not
// cross frames) and keeps 2×cores frames in flight within tens of MiB.
const ZstdFrameSize = 8 << 20

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
// Each frame is written by klauspost's serial stream encoder
// (WithConcurrentBlocks(false)). FormatVersion 1 wrote one stream with
// WithConcurrentBlocks(true) and concurrency 4, which re-copies and
// re-hashes a window of history for every job, doubled the CPU time and
// stalled under load (docs/performance.md).
func zstdOptions(level int) []zstd.EOption {
	return []zstd.EOption{
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(1),
		zstd.WithConcurrentBlocks(false),
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

// zstdEncoders holds reusable encoders per level: an encoder's tables are
// megabytes that would otherwise be allocated and cleared for every layer.
var zstdEncoders sync.Map // level -> *sync.Pool of *zstd.Encoder

func zstdPool(level int) (*sync.Pool, error) {
	if p, ok := zstdEncoders.Load(level); ok {
		return p.(*sync.Pool), nil
	}
	// Options are checked once, so that the pool's New cannot fail.
	if _, err := zstd.NewWriter(nil, zstdOptions(level)...); err != nil {
		return nil, fmt.Errorf("creating zstd encoder: %w", err)
	}
	p, _ := zstdEncoders.LoadOrStore(level, &sync.Pool{New: func() any {
		e, _ := zstd.NewWriter(nil, zstdOptions(level)...)
		return e
	}})
	return p.(*sync.Pool), nil
}

// zstdStream writes src as ZstdFrameSize frames encoded in parallel. Reset
// clears an encoder's history, so a reused encoder writes the bytes a new
// one would.
func zstdStream(dst io.Writer, src io.Reader, level int) (int64, error) {
	encs, err := zstdPool(level)
	if err != nil {
		return 0, err
	}
	n, err := parallelBlocks(dst, src, ZstdFrameSize, 0, func(out *bytes.Buffer, in, _ []byte) error {
		e := encs.Get().(*zstd.Encoder)
		defer encs.Put(e)
		out.Grow(len(in) / 2)
		e.Reset(out)
		if _, err := e.Write(in); err != nil {
			return fmt.Errorf("compressing zstd: %w", err)
		}
		if err := e.Close(); err != nil {
			return fmt.Errorf("compressing zstd: %w", err)
		}
		return nil
	}, nil)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		// No input, no frame: write the one empty frame WithZeroFrames
		// promises, so the blob is a valid zstd stream.
		e, _ := zstd.NewWriter(dst, zstdOptions(level)...)
		if err := e.Close(); err != nil {
			return 0, fmt.Errorf("compressing zstd: %w", err)
		}
	}
	return n, nil
}
