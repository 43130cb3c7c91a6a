// Package benchdata generates the seeded, hard-to-compress layer data that
// kiln's compression benchmarks use, so that every run and every machine
// measures the same bytes.
//
// The data is a sequence of segments of 512 B to 8 KiB, each one of three
// kinds picked by the seeded generator: uniformly random bytes (nothing to
// gain), random symbols from a skewed 16-letter alphabet (entropy coding
// gains, string matching does not) and words from a fixed 512-word
// vocabulary (string matching gains). Fast encoders that give up on blocks
// which look incompressible store the first two kinds at ~100%, which is the
// failure the benchmark must expose; `gzip -6` compresses the mix to ~60%.
package benchdata

import (
	"bufio"
	"io"
	"math/rand/v2"
)

// Write writes size bytes generated from seed to w.
func Write(w io.Writer, size int64, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6e))
	bw := bufio.NewWriterSize(w, 1<<20)
	vocab := make([][]byte, 512)
	for i := range vocab {
		n := 2 + rng.IntN(9)
		word := make([]byte, n)
		for j := range word {
			word[j] = byte('a' + rng.IntN(26))
		}
		vocab[i] = word
	}
	const skewed = "eeeeetttaaoinshrdlucmfwypvbgkqjxz"
	seg := make([]byte, 0, 8<<10)
	for written := int64(0); written < size; {
		n := 512 + rng.IntN(8<<10-512)
		seg = seg[:0]
		switch rng.IntN(3) {
		case 0:
			for len(seg) < n {
				v := rng.Uint64()
				for k := 0; k < 8; k++ {
					seg = append(seg, byte(v>>(8*k)))
				}
			}
		case 1:
			for len(seg) < n {
				seg = append(seg, skewed[rng.IntN(16)])
			}
		default:
			for len(seg) < n {
				// Squaring favours the first words, as in real text.
				f := rng.Float64()
				seg = append(seg, vocab[int(f*f*float64(len(vocab)))]...)
				seg = append(seg, ' ')
			}
		}
		seg = seg[:min(int64(n), size-written)]
		if _, err := bw.Write(seg); err != nil {
			return err
		}
		written += int64(len(seg))
	}
	return bw.Flush()
}
