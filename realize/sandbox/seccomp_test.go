package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/realize/sandbox"
)

// probeDir is the layer holding /bin/sysprobe, removed by TestMain.
var probeDir string

// probeLayer builds testdata/sysprobe once per test binary, statically so
// that it runs on the busybox root, into a layer of its own.
var probeLayer = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kiln-sandbox-probe-")
	if err != nil {
		return "", err
	}
	probeDir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "sysprobe"), "./testdata/sysprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building testdata/sysprobe: %v\n%s", err, out)
	}
	return dir, nil
})

func probeSpec(t *testing.T, insecure bool, args ...string) (sandbox.Spec, *strings.Builder) {
	t.Helper()
	layer, err := probeLayer()
	if err != nil {
		t.Fatal(err)
	}
	spec, _, _ := newSpec(t, args...)
	spec.Lowers = append(spec.Lowers, layer)
	spec.Insecure = insecure
	var out strings.Builder
	spec.Stdout, spec.Stderr = &out, &out
	return spec, &out
}

// probeResults runs sysprobe and parses its "NAME RESULT" lines.
func probeResults(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("sysprobe printed %q", out)
		}
		got[f[0]] = strings.Join(f[1:], " ")
	}
	return got
}

// TestDefaultStepIsFiltered is the user-namespace escape attempt
// (TestUnshareUserMountRefused) and its relatives: in a default step, creating namespaces, mounting, the kernel
// keyring, ptrace, bpf, turning off address randomization and the
// hypervisor socket all fail with EPERM from the seccomp filter, while
// ordinary work (a personality query, starting a program from Go, whose
// clone3 gets ENOSYS and falls back to clone) goes through.
func TestDefaultStepIsFiltered(t *testing.T) {
	spec, out := probeSpec(t, false, "sh", "-c", "sysprobe; grep '^Seccomp:' /proc/self/status")
	if res := run(t, spec); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, out)
	}
	got := probeResults(t, out.String())
	want := map[string]string{
		"unshare-mount-ns":         "EPERM",
		"mount-tmpfs":              "EPERM",
		"clone-newuser":            "EPERM",
		"keyctl":                   "EPERM",
		"add_key":                  "EPERM",
		"bpf":                      "EPERM",
		"ptrace-attach":            "EPERM",
		"personality-query":        "ok",
		"personality-no-randomize": "EPERM",
		"socket-vsock":             "EPERM",
		"exec":                     "ok",
		"Seccomp:":                 "2", // filter mode
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default step (-want +got):\n%s", diff)
	}
}

// TestInsecureStepIsNotFiltered: with security = "insecure" the same
// attempts get what they would get from root on the host (run here
// outside any sandbox), which is the point of opting out.
func TestInsecureStepIsNotFiltered(t *testing.T) {
	testutil.RequireRoot(t)
	layer, err := probeLayer()
	if err != nil {
		t.Fatal(err)
	}
	hostOut, err := exec.Command(filepath.Join(layer, "bin", "sysprobe")).CombinedOutput()
	if err != nil {
		t.Fatalf("sysprobe on the host: %v\n%s", err, hostOut)
	}
	host := probeResults(t, string(hostOut))

	spec, out := probeSpec(t, true, "sh", "-c", "sysprobe; grep '^Seccomp:' /proc/self/status")
	if res := run(t, spec); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, out)
	}
	got := probeResults(t, out.String())
	if s := got["Seccomp:"]; s != "0" {
		t.Errorf("insecure step has seccomp mode %q, want 0 (no filter)", s)
	}
	delete(got, "Seccomp:")
	// The hypervisor socket depends on modules the step cannot load.
	delete(got, "socket-vsock")
	delete(host, "socket-vsock")
	if diff := cmp.Diff(host, got); diff != "" {
		t.Errorf("insecure step differs from root on the host (-host +step):\n%s", diff)
	}
	for _, k := range []string{"unshare-mount-ns", "mount-tmpfs", "keyctl", "ptrace-attach", "bpf"} {
		if got[k] != "ok" {
			t.Logf("%s: %s on this kernel, even for root on the host", k, got[k])
		}
	}
}

// TestUnshareUserMountRefused is the escape a sandbox with the default
// filter must refuse, with busybox: a user namespace in which the step
// would be root, then a tmpfs mount.
func TestUnshareUserMountRefused(t *testing.T) {
	script := "unshare -U -r -m sh -c 'mount -t tmpfs tmpfs /tmp && echo mounted'"
	spec, out := probeSpec(t, false, "sh", "-c", script)
	res := run(t, spec)
	if res.ExitCode == 0 || strings.Contains(out.String(), "mounted") || !strings.Contains(out.String(), "Operation not permitted") {
		t.Errorf("default step: exit %d, output %q; want a failure with \"Operation not permitted\"", res.ExitCode, out)
	}

	spec, out = probeSpec(t, true, "sh", "-c", script)
	res = run(t, spec)
	if res.ExitCode != 0 || !strings.Contains(out.String(), "mounted") {
		t.Errorf("insecure step: exit %d, output %q; want the mount to work", res.ExitCode, out)
	}
}

// dockerDefaultCaps is CapEff of a root step: Docker's default set, bit by
// bit (linux/capability.h): CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4,
// KILL 5, SETGID 6, SETUID 7, SETPCAP 8, NET_BIND_SERVICE 10, NET_RAW 13,
// SYS_CHROOT 18, MKNOD 27, AUDIT_WRITE 29, SETFCAP 31.
const dockerDefaultCaps = "00000000a80425fb"

// TestStepCapabilities checks the capability sets the kernel reports
// inside a step: Docker's default set for root, none for another user,
// and every capability kiln itself has for an insecure step.
func TestStepCapabilities(t *testing.T) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CapEff:\s*([0-9a-f]+)$`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no CapEff in /proc/self/status:\n%s", status)
	}
	all := string(m[1])
	for _, tc := range []struct {
		name     string
		user     string
		insecure bool
		want     map[string]string
	}{
		{"root", "", false, map[string]string{"CapInh": "0000000000000000", "CapPrm": dockerDefaultCaps, "CapEff": dockerDefaultCaps, "CapBnd": dockerDefaultCaps, "CapAmb": "0000000000000000"}},
		{"nobody", "65534:65534", false, map[string]string{"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000", "CapBnd": dockerDefaultCaps, "CapAmb": "0000000000000000"}},
		{"insecure", "", true, map[string]string{"CapInh": "0000000000000000", "CapPrm": all, "CapEff": all, "CapBnd": all, "CapAmb": "0000000000000000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, out := probeSpec(t, tc.insecure, "grep", "^Cap", "/proc/self/status")
			spec.User = tc.user
			if res := run(t, spec); res.ExitCode != 0 {
				t.Fatalf("exit %d: %s", res.ExitCode, out)
			}
			got := map[string]string{}
			for _, m := range regexp.MustCompile(`(?m)^(Cap\w+):\s*([0-9a-f]+)$`).FindAllStringSubmatch(out.String(), -1) {
				got[m[1]] = m[2]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("capabilities (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnfilteredKilnRefusesSteps builds a program around sandbox.Run
// without the seccomp build tag, as a kiln built with plain `go build`
// would be, and checks that it refuses a default step with an error that
// says how to build kiln, while an insecure step still runs.
func TestUnfilteredKilnRefusesSteps(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("builds a second binary")
	}
	bin := filepath.Join(t.TempDir(), "noseccomp")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/noseccomp")
	// Without the tag libcontainer's seccomp is its stub, whatever
	// GOFLAGS the test itself was built with.
	cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/noseccomp: %v\n%s", err, out)
	}
	dir := t.TempDir()
	out, err := exec.Command(bin, busyboxRoot(t), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("noseccomp: %v\n%s", err, out)
	}
	for _, want := range []string{
		"default: ErrNoSeccomp: this kiln was built without seccomp support",
		"-tags seccomp",
		"apt-get install libseccomp-dev",
		`security = "insecure"`,
		"insecure: exit 0",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "default: exit") {
		t.Errorf("the default step ran:\n%s", out)
	}
}

// TestSeccompSupported: the test binary itself is built the way kiln must
// be (scripts/test.sh sets GOFLAGS=-tags=seccomp), so every other sandbox
// test runs its steps filtered.
func TestSeccompSupported(t *testing.T) {
	if !sandbox.SeccompSupported() {
		t.Fatal("this test binary was built without seccomp support: run the tests with GOFLAGS=-tags=seccomp (and cgo, libseccomp-dev), as scripts/test.sh does")
	}
	_, err := sandbox.Run(context.Background(), sandbox.Spec{})
	if errors.Is(err, sandbox.ErrNoSeccomp) {
		t.Errorf("Run: %v", err)
	}
}
