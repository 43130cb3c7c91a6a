package compress

import (
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// uncompressedCompressor writes the tar as it is.
type uncompressedCompressor struct{}

var _ Streamer = uncompressedCompressor{}

func (uncompressedCompressor) Type() Type { return Uncompressed }

// Level is always 0: there is nothing to tune.
func (uncompressedCompressor) Level(int) (int, error) { return 0, nil }

func (uncompressedCompressor) MediaType() string { return ocispec.MediaTypeImageLayer }

func (uncompressedCompressor) Matches(mediaType string, annotations map[string]string) bool {
	return mediaType == ocispec.MediaTypeImageLayer && !hasTOC(annotations)
}

func (uncompressedCompressor) Stream(dst io.Writer, src io.Reader, _ int) (int64, error) {
	return io.CopyBuffer(dst, src, make([]byte, 1<<20))
}
