package targets

import (
	"archive/tar"
	"bytes"
	"io"
	"slices"
	"testing"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
)

func TestKeepPaths(t *testing.T) {
	keep := keepPaths([]string{"/app/bin", "etc/"})
	for name, want := range map[string]bool{
		"app/":          true, // a parent of a path
		"app/bin":       true,
		"app/bin/tool":  true,
		"app/binary":    false,
		"app/lib/x.so":  false,
		"etc/passwd":    true,
		"etcetera/file": false,
	} {
		if got := keep(name); got != want {
			t.Errorf("keep(%q) = %v, want %v", name, got, want)
		}
	}
	if !keepPaths([]string{"/"})("anything") {
		t.Error("path / keeps everything")
	}
}

func TestFilterTar(t *testing.T) {
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for _, n := range []string{"a/", "a/keep", "b/drop"} {
		h := &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644}
		if n[len(n)-1] == '/' {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	var out bytes.Buffer
	if err := filterTar(&out, &in, keepPaths([]string{"a/keep"})); err != nil {
		t.Fatal(err)
	}
	var got []string
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
	}
	if want := []string{"a/", "a/keep"}; !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
}

func TestWritesStdout(t *testing.T) {
	art := &compiler.Target{Kind: "artifact", Export: &compiler.Export{Outputs: []string{"type=tar,dest=-"}}}
	img := &compiler.Target{Kind: "image", Export: &compiler.Export{Outputs: []string{"type=oci,dest=o"}}}
	stage := &compiler.Target{Kind: "stage"}
	for _, tc := range []struct {
		targets []*compiler.Target
		specs   []string
		want    bool
	}{
		{[]*compiler.Target{img, art}, nil, true},
		{[]*compiler.Target{img, stage}, nil, false},
		{[]*compiler.Target{art}, []string{"type=local,dest=d"}, false},
		{[]*compiler.Target{stage}, []string{"type=tar,dest=-"}, true},
	} {
		if got := WritesStdout(tc.targets, tc.specs); got != tc.want {
			t.Errorf("WritesStdout(%d targets, %q) = %v, want %v", len(tc.targets), tc.specs, got, tc.want)
		}
	}
}

func TestMetadataJSON(t *testing.T) {
	one, err := MetadataJSON(map[string]export.Metadata{"image.app": {"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"k\": \"v\"\n}\n"; string(one) != want {
		t.Errorf("one target: %q, want %q (flat)", one, want)
	}
	two, err := MetadataJSON(map[string]export.Metadata{"image.a": {"k": "1"}, "image.b": {"k": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(two, []byte(`"image.a": {`)) {
		t.Errorf("two targets are not keyed by address:\n%s", two)
	}
}

func TestDescribe(t *testing.T) {
	if got := Describe(export.Output{Type: "oci", Dest: "out.tar"}); got != "type=oci out.tar" {
		t.Error(got)
	}
	if got := Describe(export.Output{Type: "registry", Names: []string{"r/a:1", "r/b:2"}}); got != "type=registry r/a:1,r/b:2" {
		t.Error(got)
	}
}
