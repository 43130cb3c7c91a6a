package golden

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func dg(n int) string { return fmt.Sprintf("sha256:%064x", n) }
func hx(n int) string { return fmt.Sprintf("%064x", n) }

func sample() *File {
	f := New()
	f.Put(&Target{Kind: "image", Name: "app", Manifests: []Manifest{
		{Platform: "linux/arm64", Compression: "gzip", Digest: dg(1), Config: dg(2), DiffIDs: []string{dg(3)}, Blobs: []string{dg(4)}},
		{Platform: "linux/amd64", Compression: "gzip", Digest: dg(5), Config: dg(6), DiffIDs: []string{dg(3), dg(7)}, Blobs: []string{dg(4), dg(8)}},
	}, Indexes: []Index{{Compression: "gzip", Digest: dg(9)}}})
	f.Put(&Target{Kind: "artifact", Name: "site", SHA256: hx(10), Files: map[string]string{"b": hx(11), "a/x": hx(12)}})
	for _, t := range f.Targets {
		t.sort()
	}
	return f
}

// TestRoundTrip: Parse(Bytes(f)) gives f back, and Bytes is stable.
func TestRoundTrip(t *testing.T) {
	f := sample()
	b := f.Bytes()
	g, diags := Parse(b, "build.golden.hcl")
	if diags.HasErrors() {
		t.Fatalf("%s\n%s", diags.Error(), b)
	}
	if !bytes.Equal(g.Bytes(), b) {
		t.Fatalf("not stable:\n%s\nvs\n%s", b, g.Bytes())
	}
	if c := Diff(f, g, nil); len(c) != 0 {
		t.Fatalf("round trip changed: %v", c)
	}
	if !strings.HasPrefix(string(b), Header) || !strings.Contains(string(b), "\nversion = 1\n") {
		t.Fatalf("header or version missing:\n%s", b)
	}
	if strings.Index(string(b), `artifact "site"`) > strings.Index(string(b), `image "app"`) {
		t.Fatalf("targets not sorted by address:\n%s", b)
	}
}

// TestDiff names the target, the part and old -> new, and tells a
// compression-only change from a content change.
func TestDiff(t *testing.T) {
	old, new := sample(), sample()
	m := &new.Targets["image.app"].Manifests[0]
	m.Digest, m.Blobs = dg(100), []string{dg(4), dg(101)}
	new.Targets["artifact.site"].Files["b"] = hx(102)
	var got []string
	for _, c := range Diff(old, new, nil) {
		got = append(got, c.String())
	}
	want := []string{
		"artifact.site: file b: " + hx(11) + " -> " + hx(102),
		"image.app: manifest linux/amd64 gzip: " + dg(5) + " -> " + dg(100) + " (layer contents unchanged: only their compression moved)",
		"image.app: manifest linux/amd64 gzip layer 1 blob: " + dg(8) + " -> " + dg(101),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	delete(new.Targets, "artifact.site")
	if c := Diff(old, new, []string{"artifact.site"}); len(c) != 1 || !strings.Contains(c[0].String(), "no longer built") {
		t.Fatalf("removed target: %v", c)
	}
}

// TestParseErrors: every bad file is an error naming file:line:col.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"syntax", "version = \n", "x.hcl:1:11: Invalid expression"},
		{"no version", "artifact \"a\" {\n  sha256 = \"" + hx(1) + "\"\n}\n", "Missing required argument"},
		{"newer", "version = 7\n", "x.hcl:1:11: Golden file from a newer kiln"},
		{"zero", "version = 0\n", "x.hcl:1:11: Invalid golden file version"},
		{"bad sha", "version = 1\nartifact \"a\" {\n  sha256 = \"abc\"\n}\n", "x.hcl:3:12: Invalid sha256"},
		{"bad list", "version = 1\nimage \"a\" {\n  manifest \"linux/amd64\" \"gzip\" {\n    digest = \"" + dg(1) + "\"\n    config = \"" + dg(1) + "\"\n    diff_ids = [\"x\"]\n    blobs = []\n  }\n}\n", "x.hcl:6:16: Invalid diff_ids"},
		{"duplicate", "version = 1\nartifact \"a\" {\n  sha256 = \"" + hx(1) + "\"\n}\nartifact \"a\" {\n  sha256 = \"" + hx(1) + "\"\n}\n", "x.hcl:5:1: Duplicate target"},
		{"unknown block", "version = 1\nstage \"a\" {\n}\n", "x.hcl:2:1: Unsupported block type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse([]byte(tc.src), "x.hcl")
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			if got := (&DiagnosticsError{Diags: diags}).Error(); !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want it to contain %q", got, tc.want)
			}
		})
	}
}
