package lockfile

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-build/kiln/lang"
)

var update = flag.Bool("update", false, "rewrite golden files")

func dg(n int) string   { return fmt.Sprintf("sha256:%064x", n) }
func hx(n int) string   { return fmt.Sprintf("%064x", n) }
func sha1(n int) string { return fmt.Sprintf("%040x", n) }

// sample is a lock with one entry of every type.
func sample() *Lock {
	l := New()
	for _, e := range []*Entry{
		{Address: "source.image.base", Type: TypeImage, Ref: "registry.test/library/alpine:3.19", Digest: dg(1),
			Platforms: map[string]string{"linux/amd64": dg(2), "linux/arm64/v8": dg(3)}},
		{Address: "source.http.tool", Type: TypeHTTP, URL: "https://example.test/tool.tar.gz", SHA256: hx(4), Size: 1234},
		{Address: "source.git.src", Type: TypeGit, URL: "https://example.test/src.git", Ref: "main", Commit: sha1(5), Tree: sha1(6), CommitTime: 1700000000},
		{Address: "source.oci-layout.rootfs", Type: TypeOCILayout, Path: "vendor/rootfs", Ref: "v1", Digest: dg(7), Platforms: map[string]string{"linux/amd64": dg(7)}},
		{Address: "stage.build.run[0]", Type: TypeRun, Step: dg(8), OutputHash: dg(9)},
	} {
		l.Entries[e.Address] = e
	}
	return l
}

func TestGolden(t *testing.T) {
	got := sample().Bytes()
	path := filepath.Join("testdata", "sample.lock.hcl")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("normal form changed (-want +got), rerun with -update if intended:\n%s", diff)
	}
	l, diags := Parse(got, "sample.lock.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if d := Diff(sample(), l); len(d) != 0 {
		t.Fatalf("round trip changed entries: %v", d)
	}
	for _, bad := range []string{"\r\n", "\t", "  \n"} {
		if strings.Contains(string(got), bad) {
			t.Errorf("normal form contains %q", bad)
		}
	}
	if !strings.HasSuffix(string(got), "}\n") || strings.HasSuffix(string(got), "\n\n") {
		t.Errorf("normal form must end in exactly one newline")
	}
}

func TestParseErrors(t *testing.T) {
	good := string(sample().Bytes())
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error
	}{
		{"bad hcl", strings.Replace(good, "source \"http\" \"tool\" {", "source \"http\" \"tool\" {{", 1), []string{"lock.hcl:", "kiln lock"}},
		{"newer version", strings.Replace(good, "version = 1", "version = 2", 1), []string{"lock.hcl:4:11", "version 2", "upgrade kiln"}},
		{"no version", strings.Replace(good, "version = 1\n", "", 1), []string{"no version", "kiln lock"}},
		{"duplicate key", good + "\nsource \"http\" \"tool\" {\n  url    = \"https://example.test/tool.tar.gz\"\n  sha256 = \"" + hx(4) + "\"\n  size   = 1234\n}\n",
			[]string{"source.http.tool is locked twice", "first at"}},
		{"unknown attribute", strings.Replace(good, "  size   = 1234\n", "  size   = 1234\n  color  = \"red\"\n", 1), []string{"source.http.tool", `"color"`, "kiln lock --update source.http.tool"}},
		{"short digest", strings.Replace(good, dg(1), "sha256:abc", 1), []string{"source.image.base", "digest", "64 lowercase hex", "kiln lock --update source.image.base"}},
		{"long sha256", strings.Replace(good, hx(4), hx(4)+"00", 1), []string{"source.http.tool", "sha256", "kiln lock --update source.http.tool"}},
		{"platform digest", strings.Replace(good, dg(3), "sha256:"+strings.Repeat("A", 64), 1), []string{"source.image.base", "linux/arm64/v8", "kiln lock --update source.image.base"}},
		{"platform key", strings.Replace(good, `"linux/arm64/v8" =`, `"linux/ARM64" =`, 1), []string{"source.image.base", `"linux/ARM64" is not a platform`, `architecture "ARM64"`, "kiln lock --update source.image.base"}},
		{"short commit", strings.Replace(good, sha1(5), "abc123", 1), []string{"source.git.src", "commit", "git object id"}},
		{"string size", strings.Replace(good, "size   = 1234", "size   = \"1234\"", 1), []string{"source.http.tool", "size", "whole number"}},
		{"variable", strings.Replace(good, "size   = 1234", "size   = var.x", 1), []string{"source.http.tool", "literal"}},
		{"missing attribute", strings.Replace(good, "  size   = 1234\n", "", 1), []string{"source.http.tool", "no size"}},
		{"unknown block", good + "\nprovider \"x\" {\n}\n", []string{`"provider"`, "kiln lock"}},
		{"unknown type", good + "\nsource \"svn\" \"x\" {\n}\n", []string{`source.svn.x`, "remove the block"}},
		{"bad run label", strings.Replace(good, `run "stage.build" "0"`, `run "stage.build" "first"`, 1), []string{"not a lockable address"}},
		{"absolute path", strings.Replace(good, `"vendor/rootfs"`, `"/home/me/rootfs"`, 1), []string{"source.oci-layout.rootfs", "absolute"}},
		{"not normal: alignment", strings.Replace(good, "  size   = 1234", "  size = 1234", 1), []string{"not in normal form", "17:1", "line 17", "kiln lock"}},
		{"not normal: crlf", strings.ReplaceAll(good, "\n", "\r\n"), []string{"not in normal form", "line 1"}},
		{"not normal: order", swapBlocks(good), []string{"not in normal form"}},
		{"not normal: no header", strings.SplitN(good, "\n\n", 2)[1], []string{"not in normal form", "line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "build.lock.hcl")
			if err := os.WriteFile(p, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(p)
			if err == nil {
				t.Fatalf("no error for:\n%s", tt.src)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// swapBlocks moves the first entry block to the end.
func swapBlocks(s string) string {
	parts := strings.Split(s, "\n\n")
	// parts[0] header, parts[1] version, parts[2..] blocks
	blocks := append(parts[3:], strings.TrimSuffix(parts[2], "\n"))
	last := len(blocks) - 1
	blocks[last-1] = strings.TrimSuffix(blocks[last-1], "\n")
	return strings.Join(append(parts[:2], blocks...), "\n\n") + "\n"
}

func TestReadNotNormalKeepsLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "build.lock.hcl")
	src := strings.Replace(string(sample().Bytes()), "  size   = 1234", "  size = 1234", 1)
	os.WriteFile(p, []byte(src), 0o644)
	l, err := Read(p)
	if !errors.Is(err, ErrNotNormal) || l == nil {
		t.Fatalf("Read = %v, %v; want the lock and ErrNotNormal", l, err)
	}
	if string(l.Bytes()) != string(sample().Bytes()) {
		t.Fatalf("the lock read from a non-normal file differs")
	}
	os.WriteFile(p, []byte(strings.Replace(src, "version = 1", "version = 2", 1)), 0o644)
	if _, err := Read(p); err == nil || errors.Is(err, ErrNotNormal) {
		t.Fatalf("a real error must not pass as ErrNotNormal: %v", err)
	}
}

func TestReadMissing(t *testing.T) {
	l, err := Read(filepath.Join(t.TempDir(), "build.lock.hcl"))
	if err != nil || len(l.Entries) != 0 || l.Version != Version {
		t.Fatalf("Read(missing) = %+v, %v", l, err)
	}
}

func TestChangeStrings(t *testing.T) {
	old := sample()
	nw := sample()
	b := nw.Entries["source.image.base"]
	b.Ref = "registry.test/library/alpine:3.20"
	b.Digest = dg(0xcd)
	delete(nw.Entries, "source.git.src")
	nw.Entries["source.http.extra"] = &Entry{Address: "source.http.extra", Type: TypeHTTP, URL: "https://example.test/x", SHA256: hx(0xab), Size: 1}
	nw.Entries["source.oci-layout.rootfs"].Platforms["linux/arm64"] = dg(10)
	var got []string
	for _, c := range Diff(old, nw) {
		got = append(got, c.String())
	}
	want := []string{
		"- source.git.src: main@000000000000…",
		"+ source.http.extra: sha256:000000000000…",
		"• source.image.base: 3.19@sha256:000000000000… -> 3.20@sha256:000000000000…",
		"• source.oci-layout.rootfs: v1@sha256:000000000000… (platforms changed)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

func testConfig() *lang.Config {
	return &lang.Config{
		Dir: "/nonexistent", Filename: "build.hcl",
		Project: lang.Project{Platform: "linux/amd64"},
		Sources: []*lang.Source{
			{Type: "image", Name: "base", Ref: "registry.test/library/alpine:3.19", Platforms: []string{"linux/amd64", "linux/arm64/v8"}},
			{Type: "http", Name: "tool", URL: "https://example.test/tool.tar.gz"},
			{Type: "git", Name: "src", URL: "https://example.test/src.git", GitRef: "main"},
			{Type: "oci-layout", Name: "rootfs", Path: "vendor/rootfs", Ref: "v1"},
			{Type: "local", Name: "ctx", Path: "."},
		},
		Stages: []*lang.Stage{{Name: "build", Steps: []*lang.Step{
			{Kind: "mkdir", Path: "/x"},
			{Kind: "run", Args: []string{"fetch"}, Network: "host", FixedOutput: true},
			{Kind: "run", Args: []string{"make"}},
		}}},
	}
}

func TestPinAndCheck(t *testing.T) {
	cfg := testConfig()
	l := sample()
	l.Entries["stage.build.run[0]"].Step = StepDigest(cfg.Stages[0], cfg.Stages[0].Steps[1])
	if c := Check(cfg, l); len(c) != 0 {
		t.Fatalf("Check on a current lock: %v", c)
	}
	pins := map[string]string{}
	for _, s := range cfg.Sources {
		if s.Type == TypeOCILayout {
			continue
		}
		p, ok := l.Pin(s, "linux/arm64/v8")
		if !ok {
			t.Fatalf("%s not pinned", s.Address())
		}
		pins[s.Address()] = p
	}
	want := map[string]string{
		"source.image.base": dg(3), "source.http.tool": "sha256:" + hx(4), "source.git.src": sha1(5),
		"source.oci-layout.rootfs": dg(7), "source.local.ctx": "",
	}
	// The oci-layout entry only locks linux/amd64: arm64 is not pinned.
	if _, ok := l.Pin(cfg.Sources[3], "linux/arm64/v8"); ok {
		t.Errorf("oci-layout pinned for a platform it does not record")
	}
	delete(want, "source.oci-layout.rootfs")
	if p, ok := l.Pin(cfg.Sources[3], "linux/amd64"); !ok || p != dg(7) {
		t.Errorf("oci-layout pin = %q, %v", p, ok)
	}
	if diff := cmp.Diff(want, pins); diff != "" {
		t.Fatalf("pins (-want +got)\n%s", diff)
	}
	if h, ok := l.FixedOutputFor(cfg.Stages[0], cfg.Stages[0].Steps[1], "stage.build.run[0]"); !ok || h != dg(9) {
		t.Fatalf("FixedOutputFor = %q, %v", h, ok)
	}

	// Requests that moved are stale: no pin, and Check names them.
	cfg.Sources[0].Ref = "registry.test/library/alpine:3.20"
	cfg.Sources[1].URL = "https://example.test/tool-2.tar.gz"
	cfg.Sources[2].GitRef = "release"
	cfg.Stages[0].Steps[1].Args = []string{"fetch", "--all"}
	cfg.Sources = append(cfg.Sources[:3], &lang.Source{Type: "http", Name: "new", URL: "https://example.test/new"})
	for _, s := range cfg.Sources[:3] {
		if _, ok := l.Pin(s, "linux/amd64"); ok {
			t.Errorf("%s: stale entry still pinned", s.Address())
		}
	}
	var got []string
	for _, c := range Check(cfg, l) {
		got = append(got, c.String())
	}
	wantCheck := []string{
		"• source.git.src: locked for url https://example.test/src.git ref main, build.hcl asks for url https://example.test/src.git ref release; run `kiln lock`",
		"+ source.http.new: not locked (url https://example.test/new); run `kiln lock`",
		"• source.http.tool: locked for url https://example.test/tool.tar.gz, build.hcl asks for url https://example.test/tool-2.tar.gz; run `kiln lock`",
		"• source.image.base: locked for ref registry.test/library/alpine:3.19 [linux/amd64, linux/arm64/v8], build.hcl asks for ref registry.test/library/alpine:3.20 [linux/amd64, linux/arm64/v8]; run `kiln lock`",
		"- source.oci-layout.rootfs: v1@sha256:000000000000…",
		"• stage.build.run[0]: locked for step " + short(l.Entries["stage.build.run[0]"].Step) + ", build.hcl asks for step " + short(StepDigest(cfg.Stages[0], cfg.Stages[0].Steps[1])) + "; run `kiln lock`",
	}
	if diff := cmp.Diff(wantCheck, got); diff != "" {
		t.Fatalf("Check (-want +got)\n%s", diff)
	}

	// A platform added to an image source makes it stale too.
	cfg = testConfig()
	cfg.Sources[0].Platforms = append(cfg.Sources[0].Platforms, "linux/s390x")
	if c := Check(cfg, l); len(c) == 0 || c[0].Address != "source.image.base" || c[0].Kind != Stale {
		t.Fatalf("added platform not stale: %v", c)
	}
}

func TestMerge(t *testing.T) {
	base := sample()
	ours, theirs := sample(), sample()
	ours.Entries["source.http.a"] = &Entry{Address: "source.http.a", Type: TypeHTTP, URL: "u-a", SHA256: hx(20), Size: 1}
	theirs.Entries["source.http.b"] = &Entry{Address: "source.http.b", Type: TypeHTTP, URL: "u-b", SHA256: hx(21), Size: 2}
	theirs.Entries["source.http.tool"].SHA256 = hx(22)
	delete(ours.Entries, "source.git.src")
	out, err := Merge(base.Bytes(), ours.Bytes(), theirs.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	want.Entries["source.http.a"] = ours.Entries["source.http.a"]
	want.Entries["source.http.b"] = theirs.Entries["source.http.b"]
	want.Entries["source.http.tool"].SHA256 = hx(22)
	delete(want.Entries, "source.git.src")
	if diff := cmp.Diff(string(want.Bytes()), string(out)); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}

	ours.Entries["source.http.tool"].SHA256 = hx(23)
	_, err = Merge(base.Bytes(), ours.Bytes(), theirs.Bytes())
	if err == nil || !strings.Contains(err.Error(), "source.http.tool: ours sha256:000000000000…, theirs sha256:000000000000…") {
		t.Fatalf("conflict not reported: %v", err)
	}
	if _, err := Merge(nil, ours.Bytes(), []byte("version = 9\n")); err == nil || !strings.Contains(err.Error(), "their side") {
		t.Fatalf("bad side not reported: %v", err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "build.lock.hcl")
	if err := WriteFile(p, sample()); err != nil {
		t.Fatal(err)
	}
	l, err := Read(p)
	if err != nil || len(Diff(sample(), l)) != 0 {
		t.Fatalf("Read after WriteFile: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	// Into a folder that is not there: an error and nothing written.
	if err := WriteFile(filepath.Join(dir, "no", "build.lock.hcl"), sample()); err == nil {
		t.Fatal("no error writing into a missing folder")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample().Bytes())
	f.Add(New().Bytes())
	f.Add([]byte("version = 1\n"))
	f.Add([]byte("version = 2\nsource \"image\" \"x\" {\n  platforms = {}\n}\n"))
	if seeds, err := filepath.Glob(filepath.Join("testdata", "*.lock.hcl")); err == nil {
		for _, s := range seeds {
			if b, err := os.ReadFile(s); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		l, diags := Parse(src, "fuzz.lock.hcl")
		if l == nil {
			if !diags.HasErrors() {
				t.Fatal("no lock and no error")
			}
			return
		}
		// Whatever parses re-encodes to a normal form that parses to the
		// same entries without complaint.
		norm := l.Bytes()
		l2, diags2 := Parse(norm, "fuzz.lock.hcl")
		if diags2.HasErrors() {
			t.Fatalf("normal form does not parse: %v\n%s", diags2, norm)
		}
		if d := Diff(l, l2); len(d) != 0 {
			t.Fatalf("round trip changed entries: %v", d)
		}
		if string(l2.Bytes()) != string(norm) {
			t.Fatal("normal form is not a fixed point")
		}
	})
}
