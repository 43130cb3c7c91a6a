package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/realize/sandbox"
)

const limitsHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

source "local" "alloc" {
  path = "alloc"
}

# A fork bomb bounded to 2000 processes: without a limit the step would
# succeed after starting every one of them (and the container's end kills
# them). A low explicit limit keeps the test quick; that a step without
# one gets kiln's default is TestDefaultLimitsAreSet's.
stage "forks" {
  from = source.local.busybox
  run {
    shell = "i=0; while [ $i -lt 2000 ]; do sleep 1000 & i=$((i+1)); done; echo all; echo started"
    pids  = 500
  }
}

stage "alloc" {
  from = source.local.busybox
  copy {
    from = source.local.alloc
    src  = ["alloc"]
    dest = "/usr/bin/"
  }
  run {
    command = ["alloc"]
    memory  = "64m"
  }
}

# Waits, with its cgroup in place, until the test has looked at it.
stage "probe" {
  from = source.local.busybox
  run {
    shell = "touch /probe/started; while [ ! -e /probe/go ]; do sleep 0.1; done"
    mount "cache" {
      target = "/probe"
      id     = "limits-probe"
    }
  }
}
`

// allocSrc touches 4 GiB, a page at a time, as a runaway step would.
const allocSrc = `package main

import "fmt"

func main() {
	b := make([]byte, 4<<30)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	fmt.Println("touched", len(b))
}
`

func newLimitsProj(t *testing.T) *proj {
	t.Helper()
	testutil.RequireRoot(t)
	p := newProj(t, limitsHCL, "")
	src := filepath.Join(t.TempDir(), "alloc.go")
	if err := os.WriteFile(src, []byte(allocSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(p.dir, "alloc"), 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(p.dir, "alloc", "alloc"), src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the allocating helper: %v\n%s", err, out)
	}
	p.ok("lock")
	return p
}

// TestPidsLimitStopsForkBomb: a step that starts 2000 processes is stopped
// at its pids limit, and the failure names that limit and the setting that
// raises it.
func TestPidsLimitStopsForkBomb(t *testing.T) {
	p := newLimitsProj(t)
	start := time.Now()
	_, e, code := p.run("build", "--progress", "plain", "stage.forks")
	t.Logf("fork bomb stopped after %s", time.Since(start))
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, e)
	}
	want := "exited with code 2: the step hit its pids limit of 500 processes and threads; set pids = 1000 on the step or stage to raise it"
	if !strings.Contains(e, want) || strings.Contains(e, "| started") {
		t.Errorf("stderr does not say %q:\n%s", want, e)
	}
}

// TestMemoryLimitKillsAllocation: a step touching 4 GiB under memory =
// "64m" is killed by the kernel, and the failure says which limit did it.
func TestMemoryLimitKillsAllocation(t *testing.T) {
	p := newLimitsProj(t)
	_, e, code := p.run("build", "--progress", "plain", "stage.alloc")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, e)
	}
	want := "command `alloc` was killed: memory limit 64 MiB reached; set memory = \"128m\" on the step or stage to raise it"
	if !strings.Contains(e, want) || strings.Contains(e, "touched") {
		t.Errorf("stderr does not say %q:\n%s", want, e)
	}
}

// TestDefaultLimitsAreSet: a step that sets no limits runs in cgroups
// whose memory and pids limits are kiln's defaults (the memory default is
// checked where it is set rather than by allocating beyond the host's RAM),
// and a kiln started in a cgroup with a 1 GiB memory limit, as in a CI
// job's container, gives its steps three quarters of that.
func TestDefaultLimitsAreSet(t *testing.T) {
	p := newLimitsProj(t)
	pids, mem := probeLimits(t, p)
	if want := strconv.Itoa(sandbox.DefaultPids); pids != want {
		t.Errorf("pids.max of a step without pids: %s, want %s", pids, want)
	}
	want := sandbox.DefaultMemoryBytes()
	if mem != want || want <= 0 {
		t.Errorf("memory limit of a step without memory: %d, want %d", mem, want)
	}
	t.Logf("default limits: pids %s, memory %d bytes", pids, mem)

	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("the 1 GiB case creates a cgroup v1 memory cgroup; this host has v2")
	}
	own, err := cgroups.GetOwnCgroupPath("memory")
	if err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(own, fmt.Sprintf("kiln-limits-test-%d", os.Getpid()))
	if err := os.Mkdir(job, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(job) })
	if err := os.WriteFile(filepath.Join(job, "memory.limit_in_bytes"), []byte("1073741824"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.store = filepath.Join(t.TempDir(), "store") // the probe must run again
	p.shell = `echo $$ > ` + job + `/cgroup.procs && exec kiln "$@"`
	if _, mem := probeLimits(t, p); mem != 768<<20 {
		t.Errorf("memory limit of a step of a kiln limited to 1 GiB: %d, want %d", mem, 768<<20)
	}
}

// probeLimits builds stage.probe and reads the limits of its step's cgroups
// while the step waits for it.
func probeLimits(t *testing.T, p *proj) (pids string, mem int64) {
	t.Helper()
	s := p.start("build", "--progress", "plain", "stage.probe")
	var cache string
	for deadline := time.Now().Add(time.Minute); cache == ""; {
		m, _ := filepath.Glob(filepath.Join(p.store, "cache", "*", "started"))
		if len(m) == 1 {
			cache = filepath.Dir(m[0])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the step did not start within a minute:\n%s", s.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ds := execDigests(s.output())
	if len(ds) != 1 {
		t.Fatalf("want one step started, log shows %v:\n%s", ds, s.output())
	}
	pids = stepCgroupFile(t, s.cmd.Process.Pid, ds[0], "pids", "pids.max")
	memFile := "memory.limit_in_bytes"
	if cgroups.IsCgroup2UnifiedMode() {
		memFile = "memory.max"
	}
	mem, _ = strconv.ParseInt(stepCgroupFile(t, s.cmd.Process.Pid, ds[0], "memory", memFile), 10, 64)
	if err := os.WriteFile(filepath.Join(cache, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.output())
	}
	return pids, mem
}

// stepCgroupFile reads file in the cgroup of the step with digest prefix
// short that the kiln process pid runs: its steps' cgroups are created
// below kiln's own, named after the digest.
func stepCgroupFile(t *testing.T, pid int, short, controller, file string) string {
	t.Helper()
	own, err := cgroups.ParseCgroupFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var base string
	if cgroups.IsCgroup2UnifiedMode() {
		base = filepath.Join("/sys/fs/cgroup", own[""])
	} else {
		mnt, err := cgroups.FindCgroupMountpoint("", controller)
		if err != nil {
			t.Fatal(err)
		}
		base = filepath.Join(mnt, own[controller])
	}
	// Step cgroups are named kiln-<kiln's pid>-<step ID>.
	m, _ := filepath.Glob(filepath.Join(base, fmt.Sprintf("kiln-%d-kiln-%s*", pid, short), file))
	if len(m) != 1 {
		t.Fatalf("want one step cgroup below %s, found %v", base, m)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
