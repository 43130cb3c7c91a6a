package targets

import (
	"archive/tar"
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
)

func TestRename(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p, name string
		dir     bool
		want    string
		ok      bool
	}{
		{"app/dist", "app/", true, "", false},      // a parent of the path
		{"app/dist", "app/dist/", true, "", false}, // the path itself: the output's root
		{"app/dist", "app/dist/index.html", false, "index.html", true},
		{"app/dist", "app/dist/assets/", true, "assets", true},
		{"app/dist", "app/distant", false, "", false},
		{"app/bin/tool", "app/bin/tool", false, "tool", true}, // a file keeps its name
		{"", "etc/passwd", false, "etc/passwd", true},         // path "/": the whole state
		{"etc", "./etc/passwd", false, "passwd", true},
	} {
		got, ok := rename(tt.p, tt.name, tt.dir)
		if got != tt.want || ok != tt.ok {
			t.Errorf("rename(%q, %q, %v) = %q, %v; want %q, %v", tt.p, tt.name, tt.dir, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFilterTar(t *testing.T) {
	t.Parallel()
	in := func() *bytes.Buffer {
		var in bytes.Buffer
		tw := tar.NewWriter(&in)
		for _, e := range []struct{ name, link string }{
			{"a/", ""}, {"a/keep", ""}, {"a/sub/", ""}, {"a/sub/x", ""}, {"a/hard", "a/keep"}, {"b/drop", ""}, {"b/hard", "a/keep"}, {"c/keep", ""},
		} {
			h := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.name))}
			switch {
			case e.name[len(e.name)-1] == '/':
				h.Typeflag, h.Size = tar.TypeDir, 0
			case e.link != "":
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e.link, 0
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Size > 0 {
				tw.Write([]byte(e.name))
			}
		}
		tw.Close()
		return &in
	}
	for _, tt := range []struct {
		paths   []string
		want    []string
		wantErr string
	}{
		{paths: []string{"/a"}, want: []string{"keep=a/keep", "sub/", "sub/x=a/sub/x", "hard->keep"}},
		{paths: []string{"a/keep", "/c"}, want: []string{"keep=a/keep"}, wantErr: "both /a/keep and /c/keep at keep"},
		{paths: []string{"/a/sub", "/a"}, want: []string{"keep=a/keep", "sub/", "x=a/sub/x", "sub/x=a/sub/x", "hard->keep"}},
		{paths: []string{"/b"}, wantErr: "hard link to /a/keep, which none of its paths exports"},
		{paths: []string{"/b", "/a/keep"}, want: []string{"keep=a/keep", "drop=b/drop", "hard->keep"}},
	} {
		var out bytes.Buffer
		err := filterTar(&out, in(), tt.paths)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("paths %q: error %v, want %q", tt.paths, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("paths %q: %v", tt.paths, err)
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
			b, _ := io.ReadAll(tr)
			switch {
			case h.Typeflag == tar.TypeLink:
				got = append(got, h.Name+"->"+h.Linkname)
			case len(b) > 0:
				got = append(got, h.Name+"="+string(b))
			default:
				got = append(got, h.Name)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("paths %q: entries %q, want %q", tt.paths, got, tt.want)
		}
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
