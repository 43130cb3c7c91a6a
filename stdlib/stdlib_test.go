package stdlib

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"a.txt": "hello\n", "sub/b.txt": "b", "sub/c.txt": "c", "bin": "\xff\xfe"} {
		full := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	fs := Functions(dir)
	s := cty.StringVal
	tests := []struct {
		fn   string
		args []cty.Value
		want cty.Value
		err  string
	}{
		{fn: "file", args: []cty.Value{s("a.txt")}, want: s("hello\n")},
		{fn: "file", args: []cty.Value{s("sub/../a.txt")}, want: s("hello\n")},
		{fn: "file", args: []cty.Value{s("../x")}, err: "outside the build file's folder"},
		{fn: "file", args: []cty.Value{s("/etc/passwd")}, err: "absolute path"},
		{fn: "file", args: []cty.Value{s("link")}, err: "symlink outside"},
		{fn: "file", args: []cty.Value{s("nope")}, err: "no file"},
		{fn: "file", args: []cty.Value{s("sub")}, err: "directory"},
		{fn: "file", args: []cty.Value{s("bin")}, err: "not valid UTF-8"},
		{fn: "filesha256", args: []cty.Value{s("sub/b.txt")}, want: s("3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d")},
		{fn: "fileexists", args: []cty.Value{s("a.txt")}, want: cty.True},
		{fn: "fileexists", args: []cty.Value{s("sub")}, want: cty.False},
		{fn: "glob", args: []cty.Value{s("sub/*.txt")}, want: cty.ListVal([]cty.Value{s("sub/b.txt"), s("sub/c.txt")})},
		{fn: "glob", args: []cty.Value{s("*.none")}, want: cty.ListValEmpty(cty.String)},
		{fn: "glob", args: []cty.Value{s("../*")}, err: "outside"},
		{fn: "glob", args: []cty.Value{s("[")}, err: "invalid pattern"},
		{fn: "sha256", args: []cty.Value{s("a")}, want: s("ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb")},
		{fn: "sha1", args: []cty.Value{s("a")}, want: s("86f7e437faa5a7fce15d1ddcb9eaeaea377667b8")},
		{fn: "md5", args: []cty.Value{s("a")}, want: s("0cc175b9c0f1b6a831c399e269772661")},
		{fn: "base64encode", args: []cty.Value{s("kiln")}, want: s("a2lsbg==")},
		{fn: "base64decode", args: []cty.Value{s("a2lsbg==")}, want: s("kiln")},
		{fn: "base64decode", args: []cty.Value{s("!!")}, err: "invalid base64"},
		{fn: "yamldecode", args: []cty.Value{s("a: 1")}, want: cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1)})},
		{fn: "jsonencode", args: []cty.Value{cty.ObjectVal(map[string]cty.Value{"b": cty.True})}, want: s(`{"b":true}`)},
		{fn: "csvdecode", args: []cty.Value{s("a,b\n1,2\n")}, want: cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"a": s("1"), "b": s("2")})})},
		{fn: "startswith", args: []cty.Value{s("kiln"), s("ki")}, want: cty.True},
		{fn: "basename", args: []cty.Value{s("/a/b.txt")}, want: s("b.txt")},
		{fn: "format", args: []cty.Value{s("%s-%d"), s("v"), cty.NumberIntVal(2)}, want: s("v-2")},
		{fn: "timestamp", err: "timestamp() is not available: its result changes between runs, which would make builds irreproducible; use var or the kiln { source_date_epoch } setting (SOURCE_DATE_EPOCH) instead"},
		{fn: "uuid", err: "uuid() is not available"},
		{fn: "bcrypt", args: []cty.Value{s("x")}, err: "SOURCE_DATE_EPOCH"},
	}
	for _, tt := range tests {
		f, ok := fs[tt.fn]
		if !ok {
			t.Errorf("no function %s", tt.fn)
			continue
		}
		got, err := f.Call(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s(%v) error = %v, want one containing %q", tt.fn, tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s(%v): %v", tt.fn, tt.args, err)
			continue
		}
		if !got.RawEquals(tt.want) {
			t.Errorf("%s(%v) = %#v, want %#v", tt.fn, tt.args, got, tt.want)
		}
	}
}

func TestBannedAreRegistered(t *testing.T) {
	fs := Functions(t.TempDir())
	for _, n := range Banned() {
		if _, err := fs[n].Call(nil); err == nil || !strings.Contains(err.Error(), "irreproducible") {
			t.Errorf("%s() error = %v", n, err)
		}
	}
}

// TestGlobConfined: glob never lists a folder outside the build file's
// folder (through a symlinked directory), and a build folder whose name
// holds pattern characters is taken literally.
func TestGlobConfined(t *testing.T) {
	root := filepath.Join(t.TempDir(), "proj[1]")
	outside := t.TempDir()
	for _, p := range []string{filepath.Join(root, "sub", "a.txt"), filepath.Join(outside, "secret.txt")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(root, "in")); err != nil {
		t.Fatal(err)
	}
	glob := Functions(root)["glob"]
	got, err := glob.Call([]cty.Value{cty.StringVal("*/*.txt")})
	if err == nil || !strings.Contains(err.Error(), "symlink outside") {
		t.Fatalf("glob through a symlink to %s = %#v, %v; want an error", outside, got, err)
	}
	got, err = glob.Call([]cty.Value{cty.StringVal("s*/*.txt")})
	if err != nil || !got.RawEquals(cty.ListVal([]cty.Value{cty.StringVal("sub/a.txt")})) {
		t.Fatalf("glob in a folder named proj[1] = %#v, %v", got, err)
	}
	got, err = glob.Call([]cty.Value{cty.StringVal("in/*.txt")})
	if err != nil || !got.RawEquals(cty.ListVal([]cty.Value{cty.StringVal("in/a.txt")})) {
		t.Fatalf("glob through a symlink inside = %#v, %v", got, err)
	}
}

func TestFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Skip(err)
	}
	_, err := Functions(dir)["file"].Call([]cty.Value{cty.StringVal("fifo")})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("file() of a FIFO: %v", err)
	}
}
