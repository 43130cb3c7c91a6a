package lang

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// genLarge writes a build.hcl of nStages stages over nSources shared
// sources: each stage builds on a source or an earlier stage, copies from
// a source and from another stage, and runs a few steps.
func genLarge(nStages, nSources int) []byte {
	var b bytes.Buffer
	b.WriteString("kiln {\n  source_date_epoch = 1700000000\n  platform = \"linux/amd64\"\n}\n\n")
	b.WriteString("variable \"version\" {\n  default = \"1.0\"\n}\n\nlocals {\n  cflags = \"-O2\"\n}\n\n")
	for i := 0; i < nSources; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "source \"image\" \"img%d\" {\n  ref = \"registry.example.com/base/img%d:1\"\n}\n\n", i, i)
		case 1:
			fmt.Fprintf(&b, "source \"http\" \"file%d\" {\n  url = \"https://example.com/f/%d.tar.gz\"\n}\n\n", i, i)
		default:
			fmt.Fprintf(&b, "source \"local\" \"dir%d\" {\n  path    = \"src/%d\"\n  exclude = [\".git\"]\n}\n\n", i, i)
		}
	}
	for i := 0; i < nStages; i++ {
		fmt.Fprintf(&b, "stage \"s%d\" {\n", i)
		if i%10 == 0 {
			fmt.Fprintf(&b, "  from = source.image.img%d\n", (i/10%((nSources+2)/3))*3)
		} else {
			fmt.Fprintf(&b, "  from = stage.s%d\n", i-1)
		}
		fmt.Fprintf(&b, "  env = {\n    VERSION = var.version\n    CFLAGS  = local.cflags\n  }\n  workdir = \"/src\"\n")
		fmt.Fprintf(&b, "  copy {\n    from = source.local.dir%d\n    src  = \".\"\n    dest = \"/src/\"\n  }\n", (i%((nSources+1)/3))*3+2)
		if i >= 100 {
			fmt.Fprintf(&b, "  copy {\n    from = stage.s%d\n    src  = [\"/out/lib%d.a\"]\n    dest = \"/deps/\"\n  }\n", i-100+i%7, i)
		}
		fmt.Fprintf(&b, "  run {\n    command = [\"make\", \"-j2\", \"TARGET=s%d\"]\n    mount \"cache\" {\n      target = \"/root/.cache\"\n    }\n  }\n", i)
		fmt.Fprintf(&b, "  run {\n    shell = \"install -D build/s%d /out/s%d-${var.version}\"\n    timeout = \"10m\"\n  }\n", i, i)
		b.WriteString("  mkdir {\n    path = \"/out/etc\"\n    mode = \"0755\"\n  }\n}\n\n")
	}
	fmt.Fprintf(&b, "image \"app\" {\n  from = stage.s%d\n  cmd  = [\"/out/app\"]\n}\n", nStages-1)
	return b.Bytes()
}

// BenchmarkLoadLarge loads 10,000 stages over 1,000 sources; the baselines
// parse the same bytes with hcl in one piece and in kiln's chunks, so the
// cost of evaluation reads as the difference.
func BenchmarkLoadLarge(b *testing.B) {
	src := genLarge(10000, 1000)
	dir := b.TempDir()
	b.Run("hcl-parse-whole", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, diags := hclsyntax.ParseConfig(src, "build.hcl", hcl.InitialPos); diags.HasErrors() {
				b.Fatal(diags)
			}
		}
	})
	b.Run("parse-chunked", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, diags := parseNative(src, "build.hcl"); diags.HasErrors() {
				b.Fatal(diags)
			}
		}
	})
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			l := NewLoader(Options{})
			cfg, diags := l.load(src, "build.hcl", dir)
			if diags.HasErrors() {
				b.Fatal(diags)
			}
			if len(cfg.Stages) != 10000 || len(cfg.Sources) != 1000 {
				b.Fatalf("got %d stages, %d sources", len(cfg.Stages), len(cfg.Sources))
			}
		}
	})
}
