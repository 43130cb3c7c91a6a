// Package compress owns the byte-exact compression of image layers: gzip,
// zstd, eStargz and uncompressed, each with every parameter pinned so that
// the same tar gives the same blob on any machine, with any number of cores,
// at any time.
//
// gzip is written by a parallel encoder with a fixed block size: each
// 1 MiB block is deflated on its own (primed with the previous block's last
// 32 KiB, as pigz does) and ends on a sync flush, so blocks can be
// concatenated into one gzip member. The block boundaries, not the worker
// count, decide the bytes, so the output is the same on 1 or 64 cores while
// the work spreads over all of them. zstd likewise cuts the input into
// fixed 8 MiB frames, each written by klauspost's serial encoder with every
// option pinned, and concatenates them. eStargz uses a fixed chunk size, minimum
// chunk size, parallelism and level.
//
// Each compression is a Compressor in its own file (gzip.go, zstd.go,
// estargz.go, uncompressed.go), listed once in compressors
// (compressor.go). A Streamer compresses a tar as it reads it; a Rewriter
// (eStargz) writes another tar and needs the whole input at hand.
package compress
