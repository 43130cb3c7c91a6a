package realize

import (
	"runtime"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/compiler"
)

// TestSamePlatform: a step runs on the machine its platform names, in any
// spelling kiln accepts for it; a variant only the step names is the
// kernel's business, another architecture is refused.
func TestSamePlatform(t *testing.T) {
	for _, tc := range []struct {
		step, host string
		ok         bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/x86_64", "linux/amd64", true},
		{"linux/amd64/v2", "linux/amd64", true},
		{"linux/aarch64", "linux/arm64", true},
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm/v6", "linux/arm", true},
		{"linux/arm64", "linux/amd64", false},
		{"linux/386", "linux/amd64", false},
		{"windows/amd64", "linux/amd64", false},
		{"linux", "linux/amd64", false},
	} {
		if got := samePlatform(tc.step, tc.host); got != tc.ok {
			t.Errorf("samePlatform(step %s, host %s) = %v, want %v", tc.step, tc.host, got, tc.ok)
		}
	}
}

// TestForeignStepNeedsAnEmulator: a step for another architecture passes
// the check only where the binfmt_misc table has a working emulator for
// it; without one the error names what to install, and nothing runs.
func TestForeignStepNeedsAnEmulator(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the table in internal/binfmt/testdata is an amd64 machine's")
	}
	step := func(p string) *compiler.Derivation {
		return &compiler.Derivation{Platform: p, Exec: &compiler.ExecOp{}}
	}
	with := New(nil, Options{Executor: &fakeExecutor{}, BinfmtDir: "../internal/binfmt/testdata/debian12"})
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/riscv64", ""} {
		if err := with.checkRunnable(step(p)); err != nil {
			t.Errorf("step for %q with Debian's emulators registered: %v", p, err)
		}
	}
	without := New(nil, Options{Executor: &fakeExecutor{}, BinfmtDir: t.TempDir()})
	if err := without.checkRunnable(step("linux/amd64")); err != nil {
		t.Errorf("a native step without binfmt_misc: %v", err)
	}
	err := without.checkRunnable(step("linux/arm64"))
	if err == nil {
		t.Fatal("a linux/arm64 step passed on an amd64 machine without binfmt_misc")
	}
	for _, w := range []string{"this step is for linux/arm64", "cannot run linux/arm64 programs", "qemu-user-static and binfmt-support", "mount -t binfmt_misc"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
}
