package compress

import (
	"fmt"
	"io"
)

// Type is a layer compression, named as in BuildKit's compression option.
type Type string

// The compressions kiln writes.
const (
	Gzip         Type = "gzip"
	Zstd         Type = "zstd"
	Estargz      Type = "estargz"
	Uncompressed Type = "uncompressed"
)

// FormatVersion numbers the byte format of the compressed layers: it moves
// whenever a setting that reaches the bytes of a gzip or zstd blob does,
// and the blob cache keys on it, so a store never hands out blobs of an
// older format. docs/reproducibility.md lists what each version changed.
//
//  1. gzip: klauspost level 6 in 1 MiB blocks; zstd: one stream,
//     WithConcurrentBlocks(true), concurrency 4.
//  2. gzip: a block level 6 leaves above 7/8 of its input is also
//     Huffman-coded and the smaller kept; zstd: independent 8 MiB frames.
const FormatVersion = 2

// Default levels. gzip's is the fastest klauspost level that stays within
// 2% of `gzip -6` on the benchmark's data (see BenchmarkCompress); zstd's is
// zstd's own default, 3, as in BuildKit; eStargz keeps BuildKit's default.
const (
	DefaultGzipLevel    = 6
	DefaultZstdLevel    = 3
	DefaultEstargzLevel = 9
)

// ParseType parses a compression name; the empty name is gzip.
func ParseType(s string) (Type, error) {
	if s == "" {
		return Gzip, nil
	}
	if _, ok := compressorOf(Type(s)); ok {
		return Type(s), nil
	}
	return "", fmt.Errorf("unknown compression %q (want %s)", s, typeList())
}

// Level returns the level used for t when level is 0 (unset), and checks
// explicit levels against t's range.
func Level(t Type, level int) (int, error) {
	c, err := Lookup(t)
	if err != nil {
		return 0, err
	}
	return c.Level(level)
}

// Compress writes src compressed with t at level (0: the default) to dst
// and returns the number of uncompressed bytes read. eStargz is not a
// stream compression (it rewrites the tar); use BuildEstargz.
func Compress(dst io.Writer, src io.Reader, t Type, level int) (int64, error) {
	c, err := Lookup(t)
	if err != nil {
		return 0, err
	}
	if level, err = c.Level(level); err != nil {
		return 0, err
	}
	s, ok := c.(Streamer)
	if !ok {
		return 0, fmt.Errorf("compression %s cannot be streamed", t)
	}
	return s.Stream(dst, src, level)
}
