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
	"encoding/base64"
	"fmt"
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

// Text writes size bytes of seeded English-like text generated from seed:
// lines of about 72 columns of words drawn, most common first, from a fixed
// 4,096-word vocabulary, with punctuation and numbers. It stands for source
// code, logs and documentation, the bulk of most layers; zstd -3 and
// gzip -6 gain mostly from string matching on it.
func Text(w io.Writer, size int64, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x74657874))
	bw := bufio.NewWriterSize(w, 1<<20)
	vocab := make([][]byte, 4096)
	for i := range vocab {
		n := 1 + rng.IntN(4) + rng.IntN(5) + rng.IntN(4)
		word := make([]byte, n)
		for j := range word {
			word[j] = byte('a' + rng.IntN(26))
		}
		vocab[i] = word
	}
	line := make([]byte, 0, 128)
	for written := int64(0); written < size; {
		line = line[:0]
		for len(line) < 72 {
			if len(line) > 0 {
				line = append(line, ' ')
			}
			switch r := rng.IntN(40); {
			case r == 0:
				line = fmt.Appendf(line, "%d", rng.IntN(100000))
			default:
				// Cubing favours the first words, as in real text.
				f := rng.Float64()
				line = append(line, vocab[int(f*f*f*float64(len(vocab)))]...)
				if r < 4 {
					line = append(line, ".,;:"[r])
				}
			}
		}
		line = append(line, '\n')
		line = line[:min(int64(len(line)), size-written)]
		if _, err := bw.Write(line); err != nil {
			return err
		}
		written += int64(len(line))
	}
	return bw.Flush()
}

// Base64 writes size bytes of base64 of seeded random bytes in 76-column
// lines, as in MIME bodies, certificates and embedded assets: string
// matching finds nothing, entropy coding gains a quarter. An encoder that
// gives up on blocks without matches stores it at 100%.
func Base64(w io.Writer, size int64, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x62363420))
	bw := bufio.NewWriterSize(w, 1<<20)
	raw := make([]byte, 57)
	line := make([]byte, 77)
	for written := int64(0); written < size; {
		for i := 0; i < len(raw); i += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && i+k < len(raw); k++ {
				raw[i+k] = byte(v >> (8 * k))
			}
		}
		base64.StdEncoding.Encode(line, raw)
		line[76] = '\n'
		out := line[:min(int64(len(line)), size-written)]
		if _, err := bw.Write(out); err != nil {
			return err
		}
		written += int64(len(out))
	}
	return bw.Flush()
}
