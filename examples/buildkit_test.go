package examples

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil/buildkitd"
)

// buildKitExamples are the examples built on buildkitd in CI: those on
// the busybox root alone. hello-c and go-service also match their goldens
// there (checked by hand; see docs/buildkit.md) but fetch and compile for
// most of a minute each.
var buildKitExamples = []string{"service", "shell-tool", "static-site"}

// TestGoldenOnBuildKit builds examples with every exec step on buildkitd,
// through one daemon and through two, each time into a new store, and
// checks the outputs against build.golden.hcl: a build on BuildKit gives
// the same digests as a local one.
func TestGoldenOnBuildKit(t *testing.T) {
	if *update {
		t.Skip("-update")
	}
	a, b := buildkitd.Start(t), buildkitd.Start(t)
	for _, daemons := range [][]*buildkitd.Daemon{{a}, {a, b}} {
		var flags []string
		for _, d := range daemons {
			flags = append(flags, "--buildkit", d.Addr)
		}
		for _, name := range buildKitExamples {
			t.Run(name+"/"+[]string{"", "one", "two"}[len(daemons)], func(t *testing.T) {
				dir := t.TempDir()
				copyExample(t, name, dir)
				out, err := kiln(t, dir, t.TempDir(), append([]string{"golden", "check"}, flags...)...)
				if err != nil {
					t.Fatalf("kiln golden check on buildkitd: %v\n%s", err, out)
				}
				if !strings.Contains(out, "not enforced on buildkitd") {
					t.Fatalf("the build did not go through buildkitd:\n%s", out)
				}
			})
		}
	}
	// Both daemons ran steps when there were two.
	for _, d := range []*buildkitd.Daemon{a, b} {
		out, err := exec.Command(d.Buildctl, "--addr", d.Addr, "du").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Total:") || strings.Contains(string(out), "Total:\t\t0B") {
			t.Errorf("buildkitd at %s ran nothing: %v\n%s", d.Addr, err, out)
		}
	}
}

// TestLLBBuildsWithBuildctl: `kiln llb` piped to plain `buildctl build`,
// with the --local flags it prints, builds the example's image state.
func TestLLBBuildsWithBuildctl(t *testing.T) {
	if *update {
		t.Skip("-update")
	}
	d := buildkitd.Start(t)
	dir := t.TempDir()
	copyExample(t, "service", dir)
	bin, err := kilnBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--progress", "quiet", "llb", "image.app")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KILN_STORE="+t.TempDir(), "SOURCE_DATE_EPOCH=", "CI=")
	var def, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &def, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kiln llb: %v\n%s", err, stderr.String())
	}
	args := []string{"--addr", d.Addr, "build"}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if l, ok := strings.CutPrefix(line, "--local "); ok {
			args = append(args, "--local", l)
		}
	}
	if len(args) != 7 {
		t.Fatalf("want two --local flags (busybox and src), got %q", stderr.String())
	}
	out := t.TempDir()
	bc := exec.Command(d.Buildctl, append(args, "--output", "type=local,dest="+out)...)
	bc.Stdin = &def
	if b, err := bc.CombinedOutput(); err != nil {
		t.Fatalf("buildctl build: %v\n%s", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(out, "etc", "service.conf")); err != nil || len(b) == 0 {
		t.Fatalf("the built state lacks the example's /etc/service.conf: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "srv")); err != nil {
		t.Fatalf("the built state lacks the service's files: %v", err)
	}
}
