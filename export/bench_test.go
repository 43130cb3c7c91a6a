package export_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/compress"
	"github.com/kiln-build/kiln/export/internal/benchdata"
	"github.com/kiln-build/kiln/store"
	"github.com/kiln-build/kiln/store/layer"
)

// dirLayer is a layer tree as a store layer is: its canonical tar written
// on demand from the files, as export/targets does.
type dirLayer struct {
	dir string
	d   digest.Digest
}

func (l dirLayer) DiffID() digest.Digest { return l.d }
func (l dirLayer) Size() int64           { return -1 }
func (l dirLayer) Open() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(layer.WriteTar(pw, l.dir)) }()
	return pr, nil
}

// TarSize and WriteTarFile make it an export.FileLayer: an uncompressed
// export writes its tar straight into the output.
func (l dirLayer) TarSize() (int64, error) { return layer.TarSize(l.dir) }

func (l dirLayer) WriteTarFile(f *os.File) (digest.Digest, int64, error) {
	return layer.WriteTarFile(f, l.dir)
}

// sample is one timed run: wall and CPU seconds and the bytes written.
type sample struct {
	wall, cpu float64
	size      int64
}

// exportRow is one row of issue 20's export table: kiln against a CLI on
// the same input, with the row's target.
type exportRow struct {
	name   string
	data   string // text or base64
	typ    compress.Type
	export bool // whole export from a layer tree, else the codec on a file
	cli    string
	// target says whether kiln met the row's bound, given the median
	// speed (CLI wall / kiln wall) and size (kiln bytes / CLI bytes).
	target string
	pass   func(speed, size float64) bool
}

var exportRows = []exportRow{
	{"zstd export", "text", compress.Zstd, true, "tar | zstd -3", "time <= CLI, size <= +2%", func(sp, sz float64) bool { return sp >= 1 && sz <= 1.02 }},
	{"zstd export", "base64", compress.Zstd, true, "tar | zstd -3", "time <= CLI, size <= +2%", func(sp, sz float64) bool { return sp >= 1 && sz <= 1.02 }},
	{"gzip export", "base64", compress.Gzip, true, "tar | gzip -6", ">= 3x faster, size <= +2%", func(sp, sz float64) bool { return sp >= 3 && sz <= 1.02 }},
	{"gzip export", "text", compress.Gzip, true, "tar | gzip -6", "size <= +2%", func(_, sz float64) bool { return sz <= 1.02 }},
	{"uncompressed export", "text", compress.Uncompressed, true, "tar", "time <= 1.5x tar", func(sp, _ float64) bool { return sp >= 1/1.5 }},
	{"zstd codec", "text", compress.Zstd, false, "zstd -3", "time <= CLI, size <= +2%", func(sp, sz float64) bool { return sp >= 1 && sz <= 1.02 }},
	{"zstd codec", "base64", compress.Zstd, false, "zstd -3", "time <= CLI, size <= +2%", func(sp, sz float64) bool { return sp >= 1 && sz <= 1.02 }},
	{"gzip codec", "base64", compress.Gzip, false, "gzip -6", ">= 3x faster, size <= +2%", func(sp, sz float64) bool { return sp >= 3 && sz <= 1.02 }},
	{"gzip codec", "text", compress.Gzip, false, "gzip -6", "size <= +2%", func(_, sz float64) bool { return sz <= 1.02 }},
}

// BenchmarkExportTable prints the export rows of issue 20: each row's kiln
// and CLI runs interleaved (kiln, CLI, next row, ...; KILN_BENCH_RUNS
// rounds, 5 by default) on KILN_BENCH_MB MiB (256) of seeded text or
// base64, medians of wall time, CPU time and size, the ratios and PASS or
// FAIL against the row's target, and the load before and after. An export
// row goes from a tree of 64 files to an OCI layout directory through a
// fresh store (canonical tar, compression, store blob, copy out; an
// uncompressed layer is written into the layout from its tree), against
// `tar -cf - -C tree . | CLI > file`; a codec row compresses a file.
// KILN_BENCH_ROWS, a regexp, picks rows by "name data". Run by
// bench/export.sh.
func BenchmarkExportTable(b *testing.B) {
	size := int64(256 << 20)
	if v := os.Getenv("KILN_BENCH_MB"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatalf("KILN_BENCH_MB=%q: %v", v, err)
		}
		size = n << 20
	}
	runs := 5
	if v := os.Getenv("KILN_BENCH_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("KILN_BENCH_RUNS=%q: want a count", v)
		}
		runs = n
	}
	rows := exportRows
	if v := os.Getenv("KILN_BENCH_ROWS"); v != "" {
		re, err := regexp.Compile(v)
		if err != nil {
			b.Fatalf("KILN_BENCH_ROWS: %v", err)
		}
		rows = slices.DeleteFunc(slices.Clone(rows), func(r exportRow) bool { return !re.MatchString(r.name + " " + r.data) })
	}
	tmp := b.TempDir()
	files := map[string]string{}
	trees := map[string]dirLayer{}
	for _, ds := range []struct {
		name string
		gen  func(io.Writer, int64, uint64) error
	}{{"text", benchdata.Text}, {"base64", benchdata.Base64}} {
		p := filepath.Join(tmp, ds.name)
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := ds.gen(f, size, 1); err != nil {
			b.Fatal(err)
		}
		f.Close()
		files[ds.name] = p
		tree := filepath.Join(tmp, ds.name+".tree")
		if err := splitInto(p, tree, 64); err != nil {
			b.Fatal(err)
		}
		d, _, err := layer.Hash(tree)
		if err != nil {
			b.Fatal(err)
		}
		trees[ds.name] = dirLayer{tree, d}
	}
	load0, _ := os.ReadFile("/proc/loadavg")
	kiln := make([][]sample, len(rows))
	cli := make([][]sample, len(rows))
	for run := range runs {
		for i, r := range rows {
			out := filepath.Join(tmp, fmt.Sprintf("out-%d-%d", run, i))
			k, err := runKiln(r, files[r.data], trees[r.data], out)
			if err != nil {
				b.Fatalf("%s %s: kiln: %v", r.name, r.data, err)
			}
			c, err := runCLI(r, files[r.data], trees[r.data].dir, out+".cli")
			if err != nil {
				b.Fatalf("%s %s: %s: %v", r.name, r.data, r.cli, err)
			}
			os.RemoveAll(out)
			os.RemoveAll(out + ".cli")
			kiln[i], cli[i] = append(kiln[i], k), append(cli[i], c)
		}
		printTable(rows, kiln, cli, size, run+1, string(load0))
	}
}

// printTable prints the medians of the rounds so far, so that a run cut
// short still leaves its figures.
func printTable(rows []exportRow, kiln, cli [][]sample, size int64, rounds int, load0 string) {
	load1, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\n%d MiB per layer, medians of %d interleaved runs; nproc %d\n", size>>20, rounds, nproc())
	fmt.Printf("load before: %s", load0)
	fmt.Printf("load now:    %s", load1)
	fmt.Printf("%-20s %-7s %-14s %8s %8s %8s %8s %8s %9s %9s %6s  %-27s %s\n",
		"row", "data", "cli", "kiln-s", "cli-s", "kiln-cpu", "cli-cpu", "speed", "kiln-MB", "cli-MB", "size", "target", "result")
	for i, r := range rows {
		k, c := median(kiln[i]), median(cli[i])
		speed, ratio := c.wall/k.wall, float64(k.size)/float64(c.size)
		result := "FAIL"
		if r.pass(speed, ratio) {
			result = "PASS"
		}
		fmt.Printf("%-20s %-7s %-14s %8.2f %8.2f %8.2f %8.2f %7.2fx %9.1f %9.1f %6.3f  %-27s %s\n",
			r.name, r.data, r.cli, k.wall, c.wall, k.cpu, c.cpu, speed, float64(k.size)/1e6, float64(c.size)/1e6, ratio, r.target, result)
	}
}

// splitInto cuts the file at p into n files under dir.
func splitInto(p, dir string, n int) error {
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	per := (len(data) + n - 1) / n
	for i := 0; i*per < len(data); i++ {
		chunk := data[i*per : min(len(data), (i+1)*per)]
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), chunk, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// runKiln times kiln on one row. An export starts from a fresh store, so
// no blob is cached.
func runKiln(r exportRow, file string, tree dirLayer, out string) (sample, error) {
	if !r.export {
		in, err := os.Open(file)
		if err != nil {
			return sample{}, err
		}
		defer in.Close()
		cw := &countWriter{}
		cpu0, start := selfCPU(), time.Now()
		if _, err := compress.Compress(cw, in, r.typ, 0); err != nil {
			return sample{}, err
		}
		return sample{time.Since(start).Seconds(), selfCPU() - cpu0, cw.n}, nil
	}
	st, err := store.Open(out + ".store")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(out + ".store")
	defer st.Close()
	in := &export.ImageInput{
		Spec:            export.ImageSpec{Cmd: []string{"true"}},
		Platforms:       []export.PlatformInput{{Platform: amd64, Layers: []export.LayerInput{{Layer: tree, CreatedBy: "bench"}}}},
		SourceDateEpoch: epoch,
	}
	cpu0, start := selfCPU(), time.Now()
	o, err := export.ParseOutput("type=oci,dest=" + out + ",compression=" + string(r.typ))
	if err != nil {
		return sample{}, err
	}
	img, err := export.Assemble(st, in, o.AssembleOptions())
	if err != nil {
		return sample{}, err
	}
	if _, err := export.ExportImage(context.Background(), o, st, img, epoch); err != nil {
		return sample{}, err
	}
	wall, cpu := time.Since(start).Seconds(), selfCPU()-cpu0
	return sample{wall, cpu, img.Manifests[0].Layers[0].Size}, nil
}

// runCLI times the row's command line tools, CPU time of all their
// processes included.
func runCLI(r exportRow, file, tree, out string) (sample, error) {
	var cmd *exec.Cmd
	switch {
	case r.cli == "tar":
		cmd = exec.Command("tar", "-cf", out, "-C", tree, ".")
	case r.export:
		cmd = exec.Command("sh", "-c", "tar -cf - -C \"$1\" . | "+r.cli[len("tar | "):]+" -c >\"$2\"", "sh", tree, out)
	default:
		cmd = exec.Command("sh", "-c", r.cli+" -c <\"$1\" >\"$2\"", "sh", file, out)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, err
	}
	wall := time.Since(start).Seconds()
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	fi, err := os.Stat(out)
	if err != nil {
		return sample{}, err
	}
	return sample{wall, cpu, fi.Size()}, nil
}

// median takes each field's median on its own.
func median(s []sample) sample {
	pick := func(f func(sample) float64) float64 {
		v := make([]float64, len(s))
		for i, x := range s {
			v[i] = f(x)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return sample{pick(func(x sample) float64 { return x.wall }), pick(func(x sample) float64 { return x.cpu }), int64(pick(func(x sample) float64 { return float64(x.size) }))}
}

func nproc() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
