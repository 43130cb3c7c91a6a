package sandbox_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/containerinit"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/realize/sandbox"
)

// TestInitExecConstructor: a process of kiln's binary started as
// libcontainer starts a container init re-executes kiln-init from its
// parent's sealed memfd, and nothing else does: not a process that is
// not an init, not one whose init pipe its parent did not make, and not
// when the parent's memfd is unsealed, sealed but writable, or named
// otherwise. (Each case runs this test binary as the parent, which
// starts it again as the child and reports the child's executable once
// it is past every constructor.)
func TestInitExecConstructor(t *testing.T) {
	initPath := os.Getenv(containerinit.Env)
	if _, err := os.Stat(initPath); err != nil {
		t.Skipf("no kiln-init (%v)", err)
	}
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	const memfd = "/memfd:" + containerinit.MemfdName + " (deleted)"
	for _, c := range []struct{ scenario, want string }{
		{"sealed", memfd},
		{"not-init", self},
		{"no-init-pipe", self},
		{"foreign-pipe", self},
		{"unsealed", self},
		{"write-unsealed", self},
		{"misnamed", self},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), sandbox.InitParentEnv+"="+c.scenario)
			if c.scenario == "foreign-pipe" {
				fds, err := unix.Socketpair(unix.AF_LOCAL, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				ours, theirs := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
				defer ours.Close()
				defer theirs.Close()
				cmd.ExtraFiles = []*os.File{theirs}
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			if got := string(out); got != c.want {
				t.Errorf("the child runs %q, want %q", got, c.want)
			}
		})
	}
}

// TestKilnInitIsUsed: with kiln-init built (as TestMain does), this
// process's steps start it.
func TestKilnInitIsUsed(t *testing.T) {
	want := os.Getenv(containerinit.Env)
	if _, err := os.Stat(want); err != nil {
		t.Skipf("no kiln-init (%v): the fallback pass", err)
	}
	if p, err := sandbox.InitBinary(); p != want || err != nil {
		t.Errorf("InitBinary() = %q, %v, want %q", p, err, want)
	}
}

// TestKilnInitRefusesToRunByHand: run by hand, kiln-init says what it is
// and exits 2.
func TestKilnInitRefusesToRunByHand(t *testing.T) {
	p, err := testutil.BuildInit()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no kiln-init (%v)", err)
	}
	for _, args := range [][]string{nil, {"init"}} {
		cmd := exec.Command(p, args...)
		cmd.Env = []string{}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "kiln starts this program as the init of its build sandboxes") {
			t.Errorf("kiln-init %v: %v, %s", args, err, out)
		}
	}
}

// TestFallbackInit runs the package's tests again, the security tests
// among them, in a process whose steps start the test binary itself as
// their init, as a kiln without kiln-init does.
func TestFallbackInit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the package's tests again")
	}
	if _, err := os.Stat(os.Getenv(containerinit.Env)); err != nil {
		t.Skip("this is the fallback pass")
	}
	testutil.RequireRoot(t)
	cmd := exec.Command("/proc/self/exe", "-test.skip=^(TestFallbackInit|TestInitExecConstructor)$", "-test.count=1")
	cmd.Env = append(os.Environ(), containerinit.Env+"="+filepath.Join(t.TempDir(), "missing-kiln-init"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tests with kiln's own binary as the init: %v\n%s", err, out)
	}
}

// TestInitNotice: Prepare says, once, when the steps start kiln's whole
// binary as their init, and says nothing about it when they start
// kiln-init.
func TestInitNotice(t *testing.T) {
	testutil.RequireRoot(t)
	var warnings []string
	e := &sandbox.Executor{Root: t.TempDir(), Warn: func(m string) { warnings = append(warnings, m) }}
	if err := e.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	var notices []string
	for _, w := range warnings {
		if strings.Contains(w, "kiln's whole binary as their init") {
			notices = append(notices, w)
		}
	}
	_, missing := os.Stat(os.Getenv(containerinit.Env))
	switch {
	case missing == nil && len(notices) != 0:
		t.Errorf("with kiln-init, Prepare warned %q", notices)
	case missing != nil && (len(notices) != 1 || !strings.Contains(notices[0], "go build -tags seccomp -o DIR/kiln-init ./cmd/kiln-init")):
		t.Errorf("without kiln-init, Prepare warned %q, want the notice once", notices)
	}
}
