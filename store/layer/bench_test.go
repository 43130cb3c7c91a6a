package layer

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

const benchTreeSize = 64 << 20

// benchTree writes 64 MiB of seeded data: 48 MiB in 48 large files and
// 16 MiB in 4096 small ones spread over 64 directories, as a build's
// output tends to mix both.
func benchTree(b *testing.B) string {
	dir := b.TempDir()
	rng := rand.NewChaCha8([32]byte{1})
	write := func(p string, n int) {
		buf := make([]byte, n)
		rng.Read(buf)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 48; i++ {
		write(filepath.Join(dir, "big", fmt.Sprintf("f%02d", i)), 1<<20)
	}
	for i := 0; i < 4096; i++ {
		write(filepath.Join(dir, "small", fmt.Sprintf("d%02d", i%64), fmt.Sprintf("f%04d", i)), 4<<10)
	}
	return dir
}

// BenchmarkHash compares WriteTar and Hash with the floor of the same work:
// reading every file and hashing the bytes (no tar framing, no metadata).
func BenchmarkHash(b *testing.B) {
	dir := benchTree(b)
	b.Run("floor-read+sha256", func(b *testing.B) {
		b.SetBytes(benchTreeSize)
		for b.Loop() {
			h := sha256.New()
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = io.Copy(h, f)
				return err
			})
		}
	})
	b.Run("WriteTar-discard", func(b *testing.B) {
		b.SetBytes(benchTreeSize)
		for b.Loop() {
			if err := WriteTar(io.Discard, dir); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Hash", func(b *testing.B) {
		b.SetBytes(benchTreeSize)
		for b.Loop() {
			if _, _, err := Hash(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnpack extracts the tar of benchTree (64 MiB, 4,096 small
// files) into a fresh directory each time.
func BenchmarkUnpack(b *testing.B) {
	var tarball bytes.Buffer
	if err := WriteTar(&tarball, benchTree(b)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchTreeSize)
	for b.Loop() {
		dir, err := os.MkdirTemp(b.TempDir(), "unpack-")
		if err != nil {
			b.Fatal(err)
		}
		if err := Unpack(bytes.NewReader(tarball.Bytes()), dir); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}
