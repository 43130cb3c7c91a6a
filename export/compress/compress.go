package compress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
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

// GzipBlockSize is the size of the independently deflated gzip blocks. It
// is part of the output format: changing it changes every gzip digest.
const GzipBlockSize = 1 << 20

// zstdWindow is zstd's window; klauspost's job-based parallel encoder sizes
// its jobs from it, so it too is part of the output format.
const zstdWindow = 4 << 20

// zstdConcurrency is fixed, never the core count: with 1 the encoder
// switches to its serial path, which writes other bytes.
const zstdConcurrency = 4

// ParseType parses a compression name; the empty name is gzip.
func ParseType(s string) (Type, error) {
	switch Type(s) {
	case "":
		return Gzip, nil
	case Gzip, Zstd, Estargz, Uncompressed:
		return Type(s), nil
	}
	return "", fmt.Errorf("unknown compression %q (want gzip, zstd, estargz or uncompressed)", s)
}

// Level returns the level used for t when level is 0 (unset), and checks
// explicit levels against t's range.
func Level(t Type, level int) (int, error) {
	switch t {
	case Gzip, Estargz:
		if level == 0 {
			if t == Gzip {
				return DefaultGzipLevel, nil
			}
			return DefaultEstargzLevel, nil
		}
		if level < 1 || level > 9 {
			return 0, fmt.Errorf("compression-level %d out of range for %s (1-9)", level, t)
		}
	case Zstd:
		if level == 0 {
			return DefaultZstdLevel, nil
		}
		if level < 1 || level > 22 {
			return 0, fmt.Errorf("compression-level %d out of range for zstd (1-22)", level)
		}
	case Uncompressed:
		return 0, nil
	default:
		return 0, fmt.Errorf("unknown compression %q", t)
	}
	return level, nil
}

// Compress writes src compressed with t at level (0: the default) to dst
// and returns the number of uncompressed bytes read. eStargz is not a
// stream compression (it rewrites the tar); use BuildEstargz.
func Compress(dst io.Writer, src io.Reader, t Type, level int) (int64, error) {
	level, err := Level(t, level)
	if err != nil {
		return 0, err
	}
	switch t {
	case Gzip:
		return gzipParallel(dst, src, level)
	case Zstd:
		return zstdStream(dst, src, level)
	case Uncompressed:
		return io.CopyBuffer(dst, src, make([]byte, 1<<20))
	}
	return 0, fmt.Errorf("compression %s cannot be streamed", t)
}

// gzipHeader is the fixed member header: no name, no comment, MTIME 0,
// XFL 0 and OS 255 (unknown), so nothing about the host enters the bytes.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// finalBlock is an empty fixed-Huffman deflate block with BFINAL set; it
// closes the stream after the last sync-flushed block, so the output does
// not depend on whether the input length is a multiple of the block size.
var finalBlock = []byte{0x03, 0x00}

// blockJob is one fixed-size block of input on its way through a worker.
type blockJob struct {
	in   []byte
	dict []byte // the previous block's last dictSize bytes
	out  bytes.Buffer
	err  error
	done chan struct{}
}

// blockEncoder compresses one block into out, optionally primed with dict.
type blockEncoder func(out *bytes.Buffer, in, dict []byte) error

// parallelBlocks cuts src into blockSize blocks, encodes them on all cores
// and writes the results to dst in order, calling each(in) for every input
// block in order. Only the block size and the encoder decide the bytes; the
// worker count changes the speed. At most 2×workers blocks are in flight,
// so memory does not grow with the input.
func parallelBlocks(dst io.Writer, src io.Reader, blockSize, dictSize int, enc blockEncoder, each func([]byte)) (int64, error) {
	workers := runtime.GOMAXPROCS(0)
	bufs := sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}
	jobs := make(chan *blockJob)
	ordered := make(chan *blockJob, workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				j.err = enc(&j.out, j.in, j.dict)
				close(j.done)
			}
		})
	}
	var readErr error
	go func() {
		defer close(ordered)
		defer close(jobs)
		var tail []byte
		for {
			bp := bufs.Get().(*[]byte)
			n, err := io.ReadFull(src, *bp)
			if n > 0 {
				j := &blockJob{in: (*bp)[:n], dict: tail, done: make(chan struct{})}
				if dictSize > 0 {
					tail = append([]byte(nil), j.in[max(0, n-dictSize):]...)
				}
				select {
				case ordered <- j:
				case <-stop:
					return
				}
				jobs <- j
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}()
	fail := func(err error) (int64, error) {
		close(stop)
		for j := range ordered {
			<-j.done
		}
		wg.Wait()
		return 0, err
	}
	var total int64
	for j := range ordered {
		<-j.done
		if j.err != nil {
			return fail(j.err)
		}
		if each != nil {
			each(j.in)
		}
		total += int64(len(j.in))
		if _, err := dst.Write(j.out.Bytes()); err != nil {
			return fail(err)
		}
		in := j.in[:cap(j.in)]
		bufs.Put(&in)
	}
	wg.Wait()
	if readErr != nil {
		return 0, fmt.Errorf("reading layer: %w", readErr)
	}
	return total, nil
}

// gzipParallel writes one gzip member whose deflate stream is the
// concatenation of independently deflated, sync-flushed blocks.
func gzipParallel(dst io.Writer, src io.Reader, level int) (int64, error) {
	if _, err := dst.Write(gzipHeader); err != nil {
		return 0, err
	}
	crc := crc32.NewIEEE()
	total, err := parallelBlocks(dst, src, GzipBlockSize, 32<<10, func(out *bytes.Buffer, in, dict []byte) error {
		w, err := flate.NewWriterDict(out, level, dict)
		if err == nil {
			_, err = w.Write(in)
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
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
