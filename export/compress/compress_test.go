package compress_test

import (
	"archive/tar"
	"bytes"
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

// TestCoreCountAndRoundTrip: the bytes do not change with GOMAXPROCS, and
// the system's gzip and zstd decode them back.
func TestCoreCountAndRoundTrip(t *testing.T) {
	in := data(t, 5<<20+123)
	for _, tc := range []struct {
		typ compress.Type
		cli string
	}{{compress.Gzip, "gzip"}, {compress.Zstd, "zstd"}, {compress.Uncompressed, ""}} {
		var outs [][]byte
		for _, procs := range []int{1, 2, 8} {
			prev := runtime.GOMAXPROCS(procs)
			var b bytes.Buffer
			_, err := compress.Compress(&b, bytes.NewReader(in), tc.typ, 0)
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, b.Bytes())
		}
		if !bytes.Equal(outs[0], outs[1]) || !bytes.Equal(outs[0], outs[2]) {
			t.Fatalf("%s: bytes depend on GOMAXPROCS", tc.typ)
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
	var empty bytes.Buffer
	if _, err := compress.Compress(&empty, bytes.NewReader(nil), compress.Gzip, 0); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gzip", "-t")
	cmd.Stdin = &empty
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gzip -t of empty input: %v %s", err, out)
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
