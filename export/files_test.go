package export_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/export/internal/exporttest"
)

func TestParseOutput(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want export.Output
		err  string
	}{
		{spec: "type=oci,dest=out.tar", want: export.Output{Type: "oci", Dest: "out.tar", Tar: true, Compression: "gzip", PlatformSplit: true}},
		{spec: `type=registry,"name=r/a:1,r/b:2",push=true,compression=zstd,compression-level=9,force-compression=true`, want: export.Output{Type: "registry", Names: []string{"r/a:1", "r/b:2"}, Compression: "zstd", CompressionSet: true, CompressionLevel: 9, ForceCompression: true, PlatformSplit: true}},
		{spec: "type=local,dest=d,platform-split=false,force=true", want: export.Output{Type: "local", Dest: "d", Force: true, Compression: "gzip"}},
		{spec: "type=tar,dest=-", want: export.Output{Type: "tar", Dest: "-", Compression: "gzip", PlatformSplit: true}},
		{spec: "type=image,name=x", err: `unknown type "image"`},
		{spec: "type=local,dest=d,compression=zstd", err: `unknown key "compression"`},
		{spec: "type=registry,name=x,push=false", err: "always pushes"},
		{spec: "type=oci,dest=-", err: "only for type=tar"},
		{spec: "type=oci", err: "needs dest="},
	} {
		got, err := export.ParseOutput(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if g, w := strings.Join(got.Names, ","), strings.Join(tc.want.Names, ","); g != w {
			t.Errorf("%s: names %q, want %q", tc.spec, g, w)
		}
		got.Names, tc.want.Names = nil, nil
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.spec, got, tc.want)
		}
	}
}

func entries(t *testing.T, l export.Layer) []string {
	t.Helper()
	rc, err := l.Open()
	must(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		b, _ := io.ReadAll(tr)
		out = append(out, h.Name+"="+string(b))
	}
}

func TestSquash(t *testing.T) {
	reg := func(n, d string) exporttest.Entry {
		return exporttest.Entry{Name: n, Type: tar.TypeReg, Mode: 0o644, Data: d}
	}
	dir := func(n string) exporttest.Entry { return exporttest.Entry{Name: n, Type: tar.TypeDir, Mode: 0o755} }
	l1 := exporttest.TarOf(epoch, dir("a/"), reg("a/x", "1"), reg("a/y", "1"), dir("b/"), reg("b/z", "1"), reg("c", "1"), dir("d/"), reg("d/q", "1"))
	l2 := exporttest.TarOf(epoch, dir("a/"), reg("a/.wh.x", ""), reg("a/y", "2"), dir("b/"), reg("b/.wh..wh..opq", ""), reg("b/new", "2"), reg(".wh.c", ""), reg("d", "file now"))
	sq, err := export.Squash([]export.Layer{l1, l2})
	must(t, err)
	got := strings.Join(entries(t, sq), " ")
	want := "a/= a/y=2 b/= b/new=2 d=file now"
	if got != want {
		t.Fatalf("squash:\n got %s\nwant %s", got, want)
	}
	if again := strings.Join(entries(t, sq), " "); again != got {
		t.Fatal("squash is not stable across opens")
	}
}

func TestLocalAndTar(t *testing.T) {
	l := exporttest.TarOf(epoch,
		exporttest.Entry{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
		exporttest.Entry{Name: "bin/tool", Type: tar.TypeReg, Mode: 0o751, Data: "tool"},
		exporttest.Entry{Name: "bin/alias", Type: tar.TypeSymlink, Linkname: "tool"},
		exporttest.Entry{Name: "escape", Type: tar.TypeSymlink, Linkname: "/etc"},
	)
	files := func(p ocispec.Platform) export.Files { return export.Files{Platform: p, Open: l.Open} }
	arm := ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	dir := t.TempDir()
	o, err := export.ParseOutput("type=local,dest=" + filepath.Join(dir, "multi"))
	must(t, err)
	md, err := export.ExportFiles(context.Background(), o, []export.Files{files(amd64), files(arm)}, nil, epoch)
	must(t, err)
	for _, sub := range []string{"linux_amd64", "linux_arm_v7"} {
		fi, err := os.Stat(filepath.Join(dir, "multi", sub, "bin", "tool"))
		must(t, err)
		if fi.Mode().Perm() != 0o751 || fi.ModTime().Unix() != epoch {
			t.Errorf("%s/bin/tool: mode %v mtime %v", sub, fi.Mode(), fi.ModTime())
		}
	}
	if sums := md["artifact.sha256"].(map[string]string); len(sums) != 2 {
		t.Errorf("metadata: %v", md)
	}
	// A tar with a symlink pointing out and then a file through it must not
	// write outside dest.
	evil := exporttest.TarOf(epoch,
		exporttest.Entry{Name: "a", Type: tar.TypeSymlink, Linkname: dir},
		exporttest.Entry{Name: "a/pwned", Type: tar.TypeReg, Mode: 0o644, Data: "x"},
	)
	o, _ = export.ParseOutput("type=local,dest=" + filepath.Join(dir, "evil"))
	if _, err := export.ExportFiles(context.Background(), o, []export.Files{{Platform: amd64, Open: evil.Open}}, nil, epoch); err == nil {
		t.Error("a path through a symlink out of dest was written")
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("wrote outside dest")
	}
	if _, err := os.Stat(filepath.Join(dir, "evil")); err == nil {
		t.Error("failed local export left its dest")
	}
	var stdout bytes.Buffer
	o, _ = export.ParseOutput("type=tar,dest=-")
	_, err = export.ExportFiles(context.Background(), o, []export.Files{files(amd64)}, &stdout, epoch)
	must(t, err)
	if !bytes.Equal(stdout.Bytes(), l.Tar) {
		t.Error("single-platform tar output is not the state's own bytes")
	}
}
