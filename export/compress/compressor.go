package compress

import (
	"fmt"
	"io"
	"strings"

	"github.com/containerd/stargz-snapshotter/estargz"
	digest "github.com/opencontainers/go-digest"
)

// Compressor is one layer compression. Each lives in its own file and is
// listed once, in compressors.
type Compressor interface {
	// Type is the compression's name.
	Type() Type
	// Level returns the level used for level 0 (unset), and checks an
	// explicit level against the compression's range.
	Level(level int) (int, error)
	// MediaType is the OCI media type of the compression's blobs.
	MediaType() string
	// Matches reports whether a blob of this OCI media type with these
	// annotations already is in this compression, so that
	// force-compression leaves it as it is.
	Matches(mediaType string, annotations map[string]string) bool
}

// A Streamer compresses a tar as it reads it.
type Streamer interface {
	Compressor
	// Stream writes src compressed at level (as Level returned it) to dst
	// and returns the number of bytes read.
	Stream(dst io.Writer, src io.Reader, level int) (int64, error)
}

// A Rewriter writes another tar than it is given (eStargz reorders the
// entries and adds a table of contents), so it needs the whole tar at hand
// and the blob's diff_id is not the input's.
type Rewriter interface {
	Compressor
	// Rewrite writes the blob of tar at level (as Level returned it) to
	// dst.
	Rewrite(dst io.Writer, tar *io.SectionReader, level int) (Rewritten, error)
}

// Rewritten describes a blob a Rewriter wrote.
type Rewritten struct {
	// DiffID is the digest of the rewritten tar.
	DiffID digest.Digest
	// Annotations go on the blob's descriptor.
	Annotations map[string]string
}

// compressors are every compression, in the order messages list them. A
// new compression is one file implementing Streamer or Rewriter and one
// entry here.
var compressors = []Compressor{
	gzipCompressor{},
	zstdCompressor{},
	estargzCompressor{},
	uncompressedCompressor{},
}

// Lookup returns the compressor of t.
func Lookup(t Type) (Compressor, error) {
	if c, ok := compressorOf(t); ok {
		return c, nil
	}
	return nil, fmt.Errorf("unknown compression %q", t)
}

func compressorOf(t Type) (Compressor, bool) {
	for _, c := range compressors {
		if c.Type() == t {
			return c, true
		}
	}
	return nil, false
}

// typeList lists the compressions as "a, b or c".
func typeList() string {
	names := make([]string, len(compressors))
	for i, c := range compressors {
		names[i] = string(c.Type())
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// levelIn is def for level 0, else level when it is within lo-hi.
func levelIn(t Type, level, def, lo, hi int) (int, error) {
	if level == 0 {
		return def, nil
	}
	if level < lo || level > hi {
		return 0, fmt.Errorf("compression-level %d out of range for %s (%d-%d)", level, t, lo, hi)
	}
	return level, nil
}

// hasTOC reports whether a blob's annotations name an eStargz table of
// contents: such a blob is gzip, but not a plain one.
func hasTOC(annotations map[string]string) bool {
	_, ok := annotations[estargz.TOCJSONDigestAnnotation]
	return ok
}
