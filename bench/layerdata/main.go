// Command layerdata writes the seeded layer contents that bench/peers.sh
// exports: text (lines of words from a fixed vocabulary, as source code
// and logs compress) or base64 (base64 lines of random bytes, as embedded
// keys and assets: entropy coding gains a quarter, string matching
// nothing). The same seed gives the same bytes on every machine.
package main

import (
	"bufio"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
)

func main() {
	kind := flag.String("kind", "text", "text or base64")
	mb := flag.Int64("mb", 256, "MiB to write")
	seed := flag.Uint64("seed", 1, "generator seed")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: layerdata [-kind text|base64] [-mb N] [-seed N] FILE")
		os.Exit(2)
	}
	f, err := os.Create(flag.Arg(0))
	if err == nil {
		err = write(f, *kind, *mb<<20, *seed)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "layerdata:", err)
		os.Exit(1)
	}
}

func write(f *os.File, kind string, size int64, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6e))
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	switch kind {
	case "text":
		vocab := make([][]byte, 4096)
		for i := range vocab {
			word := make([]byte, 2+rng.IntN(9))
			for j := range word {
				word[j] = byte('a' + rng.IntN(26))
			}
			vocab[i] = word
		}
		for n := int64(0); n < size; n += int64(len(line)) {
			line = line[:0]
			for want := 20 + rng.IntN(80); len(line) < want; {
				// Squaring favours the first words, as in real text.
				r := rng.Float64()
				line = append(line, vocab[int(r*r*float64(len(vocab)))]...)
				line = append(line, ' ')
			}
			line[len(line)-1] = '\n'
			line = line[:min(int64(len(line)), size-n)]
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	case "base64":
		raw := make([]byte, 57) // 76 characters a line, as base64(1) writes
		line = make([]byte, 77)
		for n := int64(0); n < size; n += int64(len(line)) {
			for i := range raw {
				raw[i] = byte(rng.Uint32())
			}
			line = line[:77]
			base64.StdEncoding.Encode(line, raw)
			line[76] = '\n'
			line = line[:min(int64(len(line)), size-n)]
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("-kind is text or base64, not %q", kind)
	}
	return w.Flush()
}
