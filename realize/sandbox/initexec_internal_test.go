package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/containerinit"
)

func buildInfo(path, runc string, seccomp bool, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{Path: path, Main: debug.Module{Path: "github.com/kiln-build/kiln", Version: "(devel)"}}
	if runc != "" {
		bi.Deps = append(bi.Deps, &debug.Module{Path: runcModule, Version: runc, Sum: "h1:" + runc})
	}
	if seccomp {
		bi.Deps = append(bi.Deps, &debug.Module{Path: seccompModule, Version: "v0.12.0"})
	}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

// TestCheckInitBuild: kiln-init is refused, saying why, unless it is
// kiln's init program built with cgo, libseccomp (when kiln filters) and
// kiln's libcontainer and revision; what kiln's own build information
// lacks (a test binary's) is not compared.
func TestCheckInitBuild(t *testing.T) {
	kiln := buildInfo("github.com/kiln-build/kiln/cmd/kiln", "v1.5.2", true, "vcs.revision", "abc", "vcs.modified", "false")
	good := func() *debug.BuildInfo {
		return buildInfo(initPackage, "v1.5.2", true, "CGO_ENABLED", "1", "vcs.revision", "abc", "vcs.modified", "false")
	}
	if err := checkInitBuild(kiln, good(), true); err != nil {
		t.Errorf("a matching kiln-init was refused: %v", err)
	}
	testBinary := &debug.BuildInfo{Path: "github.com/kiln-build/kiln/realize/sandbox.test", Main: debug.Module{Path: "github.com/kiln-build/kiln", Version: "(devel)"}}
	if err := checkInitBuild(testBinary, buildInfo(initPackage, "v1.0.0", true, "CGO_ENABLED", "1"), true); err != nil {
		t.Errorf("a test binary, which cannot know its libcontainer, refused kiln-init: %v", err)
	}
	for _, c := range []struct {
		name string
		init *debug.BuildInfo
		want string
	}{
		{"another program", buildInfo("example.com/evil", "v1.5.2", true, "CGO_ENABLED", "1"), "not " + initPackage},
		{"no cgo", buildInfo(initPackage, "v1.5.2", true, "CGO_ENABLED", "0"), "without cgo"},
		{"no seccomp", buildInfo(initPackage, "v1.5.2", false, "CGO_ENABLED", "1"), "seccomp build tag"},
		{"other libcontainer", buildInfo(initPackage, "v1.5.1", true, "CGO_ENABLED", "1"), "libcontainer v1.5.1 (h1:v1.5.1), kiln with v1.5.2 (h1:v1.5.2)"},
		{"no libcontainer", buildInfo(initPackage, "", true, "CGO_ENABLED", "1"), "does not link libcontainer"},
		{"other revision", buildInfo(initPackage, "v1.5.2", true, "CGO_ENABLED", "1", "vcs.revision", "abd", "vcs.modified", "true"), "revision abd+modified, kiln from abc"},
	} {
		err := checkInitBuild(kiln, c.init, true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	other := good()
	other.Main.Version = "v0.3.0"
	kiln.Main.Version = "v0.4.0"
	if err := checkInitBuild(kiln, other, true); err == nil || !strings.Contains(err.Error(), "kiln v0.3.0, kiln from v0.4.0") {
		t.Errorf("another kiln version: %v", err)
	}
	kiln.Main.Version = "(devel)"
	if err := checkInitBuild(kiln, buildInfo(initPackage, "v1.5.2", false, "CGO_ENABLED", "1"), false); err != nil {
		t.Errorf("a kiln that does not filter refused a kiln-init without libseccomp: %v", err)
	}
}

// TestLocateInit: $KILN_INIT, then next to kiln, then PATH; a missing
// one says how to build it.
func TestLocateInit(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "kiln")
	near := filepath.Join(dir, containerinit.Name)
	other := filepath.Join(t.TempDir(), "my-init")
	for _, p := range []string{self, near, other} {
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	noPath := func(string) (string, error) { return "", errors.New("not found") }
	onPath := func(string) (string, error) { return "/usr/bin/kiln-init", nil }
	if p, err := locateInit([]string{"KILN_INIT=" + other}, self, noPath); p != other || err != nil {
		t.Errorf("$KILN_INIT: %q, %v", p, err)
	}
	if p, err := locateInit([]string{"KILN_INIT="}, self, noPath); p != near || err != nil {
		t.Errorf("next to kiln: %q, %v", p, err)
	}
	if _, err := locateInit([]string{"KILN_INIT=" + filepath.Join(dir, "missing")}, self, onPath); err == nil || !strings.Contains(err.Error(), "names no program") || !strings.Contains(err.Error(), "go build -tags seccomp -o DIR/kiln-init ./cmd/kiln-init") {
		t.Errorf("a missing $KILN_INIT: %v", err)
	}
	os.Remove(near)
	if p, err := locateInit(nil, self, onPath); p != "/usr/bin/kiln-init" || err != nil {
		t.Errorf("on PATH: %q, %v", p, err)
	}
	if _, err := locateInit(nil, self, noPath); err == nil || !strings.Contains(err.Error(), "next to kiln (in "+dir+") nor on PATH") || !strings.Contains(err.Error(), "kiln's whole binary") {
		t.Errorf("nowhere: %v", err)
	}
}

// TestLoadChecksTheSealedCopy: the real kiln-init loads into a sealed
// memfd when it matches kiln, and is refused when kiln carries another
// libcontainer.
func TestLoadChecksTheSealedCopy(t *testing.T) {
	p := os.Getenv(containerinit.Env)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no kiln-init to load (%v)", err)
	}
	env := []string{containerinit.Env + "=" + p}
	s := load(env, "", nil, nil)
	if s.err != nil || s.memfd == nil {
		t.Fatalf("kiln-init was not loaded: %v", s.err)
	}
	defer s.memfd.Close()
	if _, err := s.memfd.Write([]byte("x")); err == nil {
		t.Error("the loaded kiln-init can be written to")
	}
	if link, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(s.memfd.Fd()))); link != "/memfd:"+containerinit.MemfdName+" (deleted)" {
		t.Errorf("the memfd is %q", link)
	}
	kiln := buildInfo("github.com/kiln-build/kiln/cmd/kiln", "v0.0.1", true)
	s = load(env, "", nil, kiln)
	if s.err == nil || s.memfd != nil || !strings.Contains(s.err.Error(), "kiln with v0.0.1") || !strings.Contains(s.err.Error(), "kiln's whole binary") {
		t.Errorf("a mismatched kiln-init: %+v", s)
	}
}
