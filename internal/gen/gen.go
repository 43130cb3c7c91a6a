// Package gen writes large synthetic build files for kiln's benchmarks, so
// that the lang, compiler and CLI benchmarks measure the same input.
package gen

import (
	"bytes"
	"fmt"
)

// Large returns a build.hcl of nStages stages over nSources shared sources
// (image, http and local sources in turn). Every tenth stage starts from an
// image, the others from the stage before; each copies from a shared local
// source, from the 100th on also from an earlier stage, and runs two
// commands with a cache mount, then makes a directory: five derivations a
// stage, and the image at the end needs them all.
func Large(nStages, nSources int) []byte {
	var b bytes.Buffer
	b.Grow(nStages * 600)
	b.WriteString("kiln {\n  source_date_epoch = 1700000000\n  platform = \"linux/amd64\"\n}\n\n")
	b.WriteString("variable \"version\" {\n  default = \"1.0\"\n}\n\nlocals {\n  cflags = \"-O2\"\n}\n\n")
	for i := 0; i < nSources; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "source \"image\" \"img%d\" {\n  ref = \"127.0.0.1:5000/base/img%d:1\"\n}\n\n", i, i)
		case 1:
			fmt.Fprintf(&b, "source \"http\" \"file%d\" {\n  url = \"http://127.0.0.1:8080/f/%d.tar.gz\"\n}\n\n", i, i)
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
		b.WriteString("  env = {\n    VERSION = var.version\n    CFLAGS  = local.cflags\n  }\n  workdir = \"/src\"\n")
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
