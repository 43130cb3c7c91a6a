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

// TestDefaultPath: an image without PATH gets the one its steps ran with.
func TestDefaultPath(t *testing.T) {
	if export.DefaultPath != compiler.DefaultPath {
		t.Errorf("export.DefaultPath %q, compiler.DefaultPath %q", export.DefaultPath, compiler.DefaultPath)
	}
}

func TestSplitTargetSpec(t *testing.T) {
	for in, want := range map[string]targetSpec{
		"type=oci,dest=a":            {spec: "type=oci,dest=a"},
		"DEST=a,type=local":          {spec: "DEST=a,type=local"},
		"app=type=oci,dest=a":        {target: "app", spec: "type=oci,dest=a"},
		"image.app=type=oci,dest=a":  {target: "image.app", spec: "type=oci,dest=a"},
		"stage.x=type=local,dest=d":  {target: "stage.x", spec: "type=local,dest=d"},
		`"name=a,b",type=registry`:   {spec: `"name=a,b",type=registry`},
		"type=registry,name=r/a:1":   {spec: "type=registry,name=r/a:1"},
		"image.dest=type=oci,dest=x": {target: "image.dest", spec: "type=oci,dest=x"},
	} {
		if got := splitTargetSpec(in); got != want {
			t.Errorf("splitTargetSpec(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestPlan(t *testing.T) {
	img := func(name string, tags ...string) *compiler.Target {
		return &compiler.Target{Kind: "image", Name: name, Address: "image." + name,
			Export: &compiler.Export{Outputs: []string{"type=oci,dest=" + name + ".oci"}, Image: &compiler.ImageConfig{Tags: tags}}}
	}
	a, b := img("a", "r/a:1"), img("b")
	req := func(specs ...string) Request {
		return Request{Build: Build{Graph: &compiler.Graph{Targets: []*compiler.Target{a, b}}}, Specs: specs, Dir: "/dir"}
	}
	ps, err := req("a=type=registry").plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].t != a || ps[0].o.Type != "registry" || !slices.Equal(ps[0].o.Names, []string{"r/a:1"}) || ps[1].o.Dest != "/dir/b.oci" {
		t.Errorf("a pushed to its tags, b its declared output: %+v", ps)
	}
	if _, err := req("type=registry").plan(); err == nil {
		t.Error("b has no tags: type=registry without name= must fail")
	}
	if _, err := req("type=oci,dest=x/../same.oci", "b=type=oci,dest=same.oci").plan(); err == nil {
		t.Error("two outputs writing one dest must fail")
	}
	if _, err := req("c=type=oci,dest=c.oci").plan(); err == nil {
		t.Error("-o for a target not built must fail")
	}
}
