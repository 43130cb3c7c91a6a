package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-build/kiln/golden"
)

// kilnBin builds the kiln command once per test binary, with kiln-init
// next to it where kiln finds its sandboxes' init: the golden tests go
// through the real CLI, installed as a user's CI would have it.
var kilnBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kiln-examples-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "kiln")
	for _, c := range [][2]string{{bin, "../cmd/kiln"}, {filepath.Join(dir, "kiln-init"), "../cmd/kiln-init"}} {
		out, err := exec.Command("go", "build", "-o", c[0], c[1]).CombinedOutput()
		if err != nil {
			return "", &buildErr{string(out), err}
		}
	}
	return bin, nil
})

type buildErr struct {
	out string
	err error
}

func (e *buildErr) Error() string { return "building kiln: " + e.err.Error() + "\n" + e.out }

func kiln(t *testing.T, dir, storeDir string, args ...string) (string, error) {
	t.Helper()
	bin, err := kilnBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--progress", "quiet"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KILN_STORE="+storeDir, "SOURCE_DATE_EPOCH=", "CI=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestGoldenOutputs builds each example and compares its outputs' digests
// with examples/NAME/build.golden.hcl; -update rewrites them. A busybox
// upgrade or an exporter change moves them: review the diff it prints.
func TestGoldenOutputs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("building the examples needs root (sandboxes)")
	}
	storeDir := t.TempDir()
	for _, name := range names(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyExample(t, name, dir)
			if *update {
				if out, err := kiln(t, dir, storeDir, "golden", "update"); err != nil {
					t.Fatalf("kiln golden update: %v\n%s", err, out)
				}
				b, err := os.ReadFile(filepath.Join(dir, golden.FileName))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(name, golden.FileName), b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if _, err := golden.Read(filepath.Join(name, golden.FileName)); err != nil {
				t.Fatalf("%v (go test ./examples -update records it)", err)
			}
			if out, err := kiln(t, dir, storeDir, "golden", "check"); err != nil {
				t.Fatalf("the outputs of %s moved (if intended: go test ./examples -run TestGoldenOutputs -update):\n%s", name, out)
			}
		})
	}
}

// TestGoldenCatchesOneByte changes one byte of a source file of a copy of
// examples/service: the golden check must fail and name the image.
func TestGoldenCatchesOneByte(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("building the examples needs root (sandboxes)")
	}
	if *update {
		t.Skip("-update")
	}
	dir := t.TempDir()
	copyExample(t, "service", dir)
	src := filepath.Join(dir, "src", "build.sh")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "<title>s")
	if i < 0 {
		t.Fatalf("%s no longer has the <title> this test edits", src)
	}
	b[i+len("<title>")] = 'S' // one byte of the page the image serves
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := kiln(t, dir, t.TempDir(), "golden", "check")
	if err == nil {
		t.Fatalf("golden check passed after a one-byte change:\n%s", out)
	}
	if !strings.Contains(out, "image.app: manifest linux/amd64 gzip: sha256:") || !strings.Contains(out, " -> sha256:") {
		t.Fatalf("golden check does not name the target and old -> new digest:\n%s", out)
	}
}
