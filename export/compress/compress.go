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
