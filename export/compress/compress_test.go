package compress_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/kiln-build/kiln/export/compress"
	"github.com/kiln-build/kiln/export/internal/benchdata"
)

func data(t testing.TB, size int64) []byte {
	var b bytes.Buffer
	if err := benchdata.Write(&b, size, 7); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// layerData is text, base64 and the mixed benchmark data one after the
// other: blocks that deflate well, blocks only Huffman coding shrinks, and
// blocks of both, over more than two zstd frames.
func layerData(t testing.TB) []byte {
	var b bytes.Buffer
	if err := benchdata.Text(&b, 7<<20+11, 7); err != nil {
		t.Fatal(err)
	}
	if err := benchdata.Base64(&b, 6<<20+5, 7); err != nil {
		t.Fatal(err)
	}
	if err := benchdata.Write(&b, 5<<20+123, 7); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCoreCountAndRoundTrip: the bytes depend neither on GOMAXPROCS nor on
// how many encoders run, and the system's gzip and zstd decode them back.
func TestCoreCountAndRoundTrip(t *testing.T) {
	in := layerData(t)
	for _, tc := range []struct {
		typ compress.Type
		cli string
	}{{compress.Gzip, "gzip"}, {compress.Zstd, "zstd"}, {compress.Uncompressed, ""}} {
		var outs [][]byte
		for _, run := range []struct{ procs, workers int }{{1, 1}, {2, 0}, {8, 8}, {4, 3}} {
			prev := runtime.GOMAXPROCS(run.procs)
			restore := compress.SetWorkers(run.workers)
			var b bytes.Buffer
			_, err := compress.Compress(&b, bytes.NewReader(in), tc.typ, 0)
			restore()
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, b.Bytes())
		}
		for i := range outs[1:] {
			if !bytes.Equal(outs[0], outs[i+1]) {
				t.Fatalf("%s: bytes depend on GOMAXPROCS or the worker count (run %d differs)", tc.typ, i+1)
			}
		}
		if tc.cli == "" {
			continue
		}
		cmd := exec.Command(tc.cli, "-d", "-c")
		cmd.Stdin = bytes.NewReader(outs[0])
		got, err := cmd.Output()
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%s -d: %v, round trip equal: %v", tc.cli, err, bytes.Equal(got, in))
		}
	}
	for _, typ := range []compress.Type{compress.Gzip, compress.Zstd} {
		var empty bytes.Buffer
		if _, err := compress.Compress(&empty, bytes.NewReader(nil), typ, 0); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(string(typ), "-t")
		cmd.Stdin = &empty
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s -t of empty input: %v %s", typ, err, out)
		}
	}
}

// TestFormatDigests pins the bytes of each compression at FormatVersion:
// a library upgrade or a changed setting that moves them must bump
// compress.FormatVersion and say what changed in docs/reproducibility.md,
// then update these digests.
func TestFormatDigests(t *testing.T) {
	in := layerData(t)
	want := map[compress.Type]string{
		compress.Gzip:         "b697cc6998c407f07f00f939b88a462e173d6d42ed83bbc3d4f731d90ab290a8",
		compress.Zstd:         "2a4f03c8f8a523a75436f366c640046dfb346c2e31de7d2b4757c6430c2dfe08",
		compress.Uncompressed: "bf5fac0ed3d04d66f21bfb4e6b5144ec3379fa7d710a7174cea1c2d394800e08",
	}
	for _, typ := range []compress.Type{compress.Gzip, compress.Zstd, compress.Uncompressed} {
		h := sha256.New()
		if _, err := compress.Compress(h, bytes.NewReader(in), typ, 0); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want[typ] {
			t.Errorf("%s at format version %d: sha256 %s, want %s", typ, compress.FormatVersion, got, want[typ])
		}
	}
}

// TestGzipSizeNearGzip6: on base64, text and mixed data kiln's gzip stays
// within 2% of `gzip -6`. Format version 1 stored base64 at ~100%, 1.31x.
func TestGzipSizeNearGzip6(t *testing.T) {
	for _, ds := range []struct {
		name string
		gen  func(io.Writer, int64, uint64) error
	}{{"base64", benchdata.Base64}, {"text", benchdata.Text}, {"mixed", benchdata.Write}} {
		var in bytes.Buffer
		if err := ds.gen(&in, 4<<20, 3); err != nil {
			t.Fatal(err)
		}
		var kiln bytes.Buffer
		if _, err := compress.Compress(&kiln, bytes.NewReader(in.Bytes()), compress.Gzip, 0); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("gzip", "-6", "-c")
		cmd.Stdin = bytes.NewReader(in.Bytes())
		cli, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if r := float64(kiln.Len()) / float64(len(cli)); r > 1.02 {
			t.Errorf("%s: kiln's gzip is %.3fx the size of gzip -6's (%d vs %d bytes)", ds.name, r, kiln.Len(), len(cli))
		}
	}
}

func TestFreeOf(t *testing.T) {
	for _, tc := range []struct {
		procs int
		load  string
		self  int
		want  int
	}{
		{2, "0.00 0.01 0.05 1/120 999\n", 1, 2},
		{2, "0.50 0.01 0.05 2/120 999\n", 2, 2}, // our own tar writer
		{2, "3.90 1.16 0.41 2/300 999\n", 1, 2}, // two cores: never fewer than two
		{1, "3.90 1.16 0.41 2/300 999\n", 1, 1},
		{8, "3.90 1.16 0.41 4/300 999\n", 1, 5},
		{8, "44.79 35.02 19.53 48/280 29635\n", 2, 2},
		{2, "44.79 35.02 19.53 48/280 29635\n", 2, 2},
		{2, "0.00 0.01 0.05 1/120 999\n", 0, 2},
		{4, "garbage", 1, 4},
	} {
		if got := compress.FreeOf(tc.procs, tc.load, tc.self); got != tc.want {
			t.Errorf("freeOf(%d, %q, %d) = %d, want %d", tc.procs, tc.load, tc.self, got, tc.want)
		}
	}
}

func TestEstargzCoreCount(t *testing.T) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for i := range 40 {
		body := data(t, int64(1000+i*9000))
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%02d", i), Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1, 0), Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	tw.Close()
	var outs [][]byte
	var infos []*compress.EstargzInfo
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		var b bytes.Buffer
		info, err := compress.BuildEstargz(&b, io.NewSectionReader(bytes.NewReader(tb.Bytes()), 0, int64(tb.Len())), 0)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		outs, infos = append(outs, b.Bytes()), append(infos, info)
	}
	if !bytes.Equal(outs[0], outs[1]) || *infos[0] != *infos[1] {
		t.Fatal("estargz bytes depend on GOMAXPROCS")
	}
}

// BenchmarkCompress compares kiln's gzip and zstd with `gzip -6` and
// `zstd -3` on the same 256 MiB (set KILN_BENCH_MB to change) of seeded
// data from a file. ratio is output/input; vs-cli is the CLI's time over
// kiln's (above 1: kiln is faster) and size-vs-cli kiln's size over the
// CLI's. Run: go test ./export/compress -run '^$' -bench Compress -benchmem
func BenchmarkCompress(b *testing.B) {
	size := int64(256 << 20)
	if v := os.Getenv("KILN_BENCH_MB"); v != "" {
		fmt.Sscan(v, &size)
		size <<= 20
	}
	path := filepath.Join(b.TempDir(), "layer")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := benchdata.Write(f, size, 1); err != nil {
		b.Fatal(err)
	}
	f.Close()
	type result struct {
		d time.Duration
		n int64
	}
	cli := func(name string, args ...string) result {
		in, _ := os.Open(path)
		defer in.Close()
		cw := &counter{}
		cmd := exec.Command(name, args...)
		cmd.Stdin, cmd.Stdout = in, cw
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		return result{time.Since(start), cw.n}
	}
	kiln := func(t compress.Type) result {
		in, _ := os.Open(path)
		defer in.Close()
		cw := &counter{}
		start := time.Now()
		if _, err := compress.Compress(cw, in, t, 0); err != nil {
			b.Fatal(err)
		}
		return result{time.Since(start), cw.n}
	}
	for _, tc := range []struct {
		typ  compress.Type
		cli  string
		args []string
	}{{compress.Gzip, "gzip", []string{"-6", "-c"}}, {compress.Zstd, "zstd", []string{"-3", "-c", "-q"}}} {
		b.Run(string(tc.typ), func(b *testing.B) {
			b.SetBytes(size)
			var k, c result
			for b.Loop() {
				// Interleaved, so load from elsewhere hits both alike.
				kr := kiln(tc.typ)
				cr := cli(tc.cli, tc.args...)
				k.d, k.n, c.d, c.n = k.d+kr.d, kr.n, c.d+cr.d, cr.n
			}
			b.ReportMetric(float64(k.n)/float64(size), "ratio")
			b.ReportMetric(float64(c.n)/float64(size), "cli-ratio")
			b.ReportMetric(k.d.Seconds()/float64(b.N), "kiln-s")
			b.ReportMetric(c.d.Seconds()/float64(b.N), "cli-s")
			b.ReportMetric(c.d.Seconds()/k.d.Seconds(), "vs-cli")
			b.ReportMetric(float64(k.n)/float64(c.n), "size-vs-cli")
		})
	}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
