package compress

import (
	"fmt"
	"io"
	"strconv"

	"github.com/containerd/stargz-snapshotter/estargz"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// eStargz parameters. Each one changes the bytes, so none is left to the
// library's defaults; the parallelism in particular defaults to GOMAXPROCS.
const (
	EstargzChunkSize    = 4 << 20
	EstargzMinChunkSize = 0
	estargzParallelism  = 4
)

// estargzCompressor writes eStargz: gzip that a lazy-pulling snapshotter
// can read file by file.
type estargzCompressor struct{}

var _ Rewriter = estargzCompressor{}

func (estargzCompressor) Type() Type { return Estargz }

func (estargzCompressor) Level(level int) (int, error) {
	return levelIn(Estargz, level, DefaultEstargzLevel, 1, 9)
}

// MediaType is gzip's: an eStargz blob is a gzip stream, told apart by its
// annotations.
func (estargzCompressor) MediaType() string { return ocispec.MediaTypeImageLayerGzip }

func (estargzCompressor) Matches(_ string, annotations map[string]string) bool {
	return hasTOC(annotations)
}

func (estargzCompressor) Rewrite(dst io.Writer, tar *io.SectionReader, level int) (Rewritten, error) {
	info, err := BuildEstargz(dst, tar, level)
	if err != nil {
		return Rewritten{}, err
	}
	return Rewritten{DiffID: info.DiffID, Annotations: map[string]string{
		estargz.TOCJSONDigestAnnotation:         info.TOCDigest.String(),
		estargz.StoreUncompressedSizeAnnotation: strconv.FormatInt(info.UncompressedSize, 10),
	}}, nil
}

// EstargzInfo describes a written eStargz layer: a rewritten tar, so its
// diff_id is not the input tar's.
type EstargzInfo struct {
	DiffID           digest.Digest
	TOCDigest        digest.Digest
	UncompressedSize int64
}

// BuildEstargz converts an uncompressed tar into eStargz at level (0: the
// default) and writes the blob to dst. No files are prioritized: a prefetch list would have to come
// from a run of the image, which a reproducible export cannot depend on.
func BuildEstargz(dst io.Writer, tar *io.SectionReader, level int) (*EstargzInfo, error) {
	level, err := Level(Estargz, level)
	if err != nil {
		return nil, err
	}
	b, err := estargz.Build(tar,
		estargz.WithChunkSize(EstargzChunkSize),
		estargz.WithMinChunkSize(EstargzMinChunkSize),
		estargz.WithCompressionLevel(level),
		estargz.WithPrioritizedFiles(nil),
		estargz.WithParallelism(estargzParallelism),
	)
	if err != nil {
		return nil, fmt.Errorf("building estargz: %w", err)
	}
	if _, err := io.CopyBuffer(dst, b, make([]byte, 1<<20)); err != nil {
		b.Close()
		return nil, fmt.Errorf("writing estargz: %w", err)
	}
	// DiffID and UncompressedSize are valid only once the blob is read and
	// closed.
	if err := b.Close(); err != nil {
		return nil, fmt.Errorf("writing estargz: %w", err)
	}
	size, err := b.UncompressedSize()
	if err != nil {
		return nil, fmt.Errorf("building estargz: %w", err)
	}
	return &EstargzInfo{DiffID: b.DiffID(), TOCDigest: b.TOCDigest(), UncompressedSize: size}, nil
}
