package examples

import (
	"os"
	"os/exec"
	"testing"
)

// umaskExamples are two examples covering where kiln itself creates files
// and folders that reach a layer: hello-c's deb sources (a generated
// /etc/passwd, /root and /tmp) and service's local sources, mkdir, file
// and copy steps on a busybox root. Building every example twice more,
// each from an empty store, would double the examples' run time
// (go-service fetches a Debian toolchain and builds Go on the same
// mechanisms; shell-tool and static-site add none). No example runs a
// step in a workdir kiln must create (each copies into it first):
// cmd/kiln's TestOutputsDoNotDependOnUmask covers that and every other
// source and step kind on a small fixture.
var umaskExamples = []string{"service", "hello-c"}

// TestOutputsDoNotDependOnUmask builds examples under umask 000 and 077,
// each from an empty store (a store shared with another umask would
// answer from its cache), and checks their outputs against build.golden.hcl,
// which TestGoldenOutputs records under the usual umask 022.
func TestOutputsDoNotDependOnUmask(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("building the examples needs root (sandboxes)")
	}
	if testing.Short() {
		t.Skip("builds examples twice from empty stores")
	}
	if *update {
		t.Skip("-update records under the usual umask only")
	}
	bin, err := kilnBin()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range umaskExamples {
		for _, mask := range []string{"000", "077"} {
			t.Run(name+"/"+mask, func(t *testing.T) {
				dir := t.TempDir()
				copyExample(t, name, dir)
				// A login shell's way: set the umask, then exec kiln.
				cmd := exec.Command("sh", "-c", `umask `+mask+`; exec "$0" "$@"`, bin, "--progress", "quiet", "golden", "check")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "KILN_STORE="+t.TempDir(), "SOURCE_DATE_EPOCH=", "CI=")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("under umask %s the outputs of %s differ from build.golden.hcl: %v\n%s", mask, name, err, out)
				}
			})
		}
	}
}
