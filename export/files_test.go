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
	"time"

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
		{spec: "type=oci,dest=o,sync=true", want: export.Output{Type: "oci", Dest: "o", Sync: true, Compression: "gzip", PlatformSplit: true}},
		{spec: "type=tar,dest=f.tar,sync=false", want: export.Output{Type: "tar", Dest: "f.tar", Compression: "gzip", PlatformSplit: true}},
		{spec: "type=oci,dest=o,sync=yes", err: `sync="yes" is not true or false`},
		{spec: "type=tar,dest=-,sync=true", err: "dest=- (stdout)"},
		{spec: "type=registry,name=x,sync=true", err: `unknown key "sync"`},
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

// orderedTar writes entries in the order given (TarOf sorts by full name,
// which is not the layer package's depth-first order).
func orderedTar(entries ...exporttest.Entry) *exporttest.Layer {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Linkname, ModTime: time.Unix(epoch, 0), Format: tar.FormatPAX}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		tw.Write([]byte(e.Data))
	}
	tw.Close()
	return &exporttest.Layer{Tar: b.Bytes()}
}

// Squashed layers keep the canonical depth-first order, so a hardlink
// still follows its target (a/x before a-b, although "a-b" < "a/x"), and a
// hardlink whose target a higher layer replaced or removed becomes a copy
// of the file it linked to rather than a link to the new file or to
// nothing.
func TestSquashHardlinks(t *testing.T) {
	reg := func(n, d string) exporttest.Entry {
		return exporttest.Entry{Name: n, Type: tar.TypeReg, Mode: 0o644, Data: d}
	}
	lnk := func(n, target string) exporttest.Entry {
		return exporttest.Entry{Name: n, Type: tar.TypeLink, Linkname: target}
	}
	dir := func(n string) exporttest.Entry { return exporttest.Entry{Name: n, Type: tar.TypeDir, Mode: 0o755} }
	l1 := orderedTar(dir("a/"), reg("a/x", "1"), lnk("a-b", "a/x"), reg("c", "old c"), lnk("d", "c"), lnk("e", "d"), reg("k", "k"), lnk("l", "k"))
	l2 := orderedTar(dir("a/"), reg("a/x", "2"), reg(".wh.c", ""))
	sq, err := export.Squash([]export.Layer{l1, l2})
	must(t, err)
	rc, err := sq.Open()
	must(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		b, _ := io.ReadAll(tr)
		s := fmt.Sprintf("%s:%c=%s", h.Name, h.Typeflag, b)
		if h.Typeflag == tar.TypeLink {
			s += "->" + h.Linkname
		}
		got = append(got, s)
	}
	want := []string{"a/:5=", "a/x:0=2", "a-b:0=1", "d:0=old c", "e:1=->d", "k:0=k", "l:1=->k"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("squash:\n got %v\nwant %v", got, want)
	}
}
