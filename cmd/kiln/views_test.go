package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/testutil"
)

// copyHCL has a copy step that takes long enough to be killed in: it
// reads a stage of two layers (an overlay view) into a base of two layers
// (another view). DEST makes a new copy step when a round was too late.
const copyHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

variable "DEST" {
  type    = string
  default = "/data"
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "big" {
  from = source.local.busybox
  run {
    shell = "mkdir /data; i=0; while [ $i -lt 3000 ]; do echo $i > /data/f$i; i=$((i+1)); done; dd if=/dev/zero of=/data/big bs=1M count=300 2>/dev/null"
  }
}

stage "c" {
  from = source.local.busybox
  run {
    shell = "echo x > /x"
  }
  copy {
    from = stage.big
    src  = ["/data"]
    dest = var.DEST
  }
}
`

// TestKillDuringCopy kills kiln build with SIGKILL while a copy step reads
// through overlay views. Its views used to stay mounted in the store's tmp,
// and from then on every command on the store failed with EROFS. Now no
// mount is left, and every store command works.
func TestKillDuringCopy(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("kills real builds; skipped with -short")
	}
	p := newProj(t, copyHCL, "")
	p.ok("build", "--progress", "quiet", "stage.big")
	var digests []string
	for try := 0; ; try++ {
		dest := fmt.Sprintf("/data%d", try)
		s := p.start("build", "--progress", "plain", "--var", "DEST="+dest, "stage.c")
		s.waitLine(t, `stage\.c/copy\[1\]: copy`)
		time.Sleep(100 * time.Millisecond)
		killed := s.signal(t, syscall.SIGKILL)
		s.wait(t, 30*time.Second)
		digests = append(digests, execDigests(s.output())...)
		if killed && !strings.Contains(s.output(), "copy[1]: done") {
			break
		}
		if try == 3 {
			t.Fatalf("the copy step ended before kiln was killed, 4 times:\n%s", s.output())
		}
	}
	checkNoLeftovers(t, p.store, nil, "", false)
	for _, args := range [][]string{
		{"store", "du"}, {"store", "ls"}, {"store", "ls", "--kind", "layers"}, {"store", "path"},
		{"store", "gc"}, {"log", digests[0]}, {"plan", "stage.c"},
	} {
		p.ok(args...)
	}
	p.verifyStore()
	p.ok("store", "verify", "--repair")
	p.ok("build", "--progress", "plain", "stage.c")
	p.verifyStore()
	checkNoLeftovers(t, p.store, nil, "", false)
}

// TestStaleViewRepaired: a kiln from before detached views, killed during
// a copy step, left a read-only overlay mounted in the store's tmp (this is
// that mount, made by hand). The next kiln must unmount and remove it, keep
// the layers it showed, and kiln store verify must say what it found.
func TestStaleViewRepaired(t *testing.T) {
	testutil.RequireRoot(t)
	p := newProj(t, copyHCL, "")
	p.ok("build", "--progress", "quiet", "stage.c")
	ents, err := os.ReadDir(filepath.Join(p.store, "layers"))
	if err != nil || len(ents) < 2 {
		t.Fatalf("layers: %v, %v", ents, err)
	}
	var lowers []string
	for _, e := range ents {
		lowers = append(lowers, filepath.Join(p.store, "layers", e.Name()))
	}
	view := filepath.Join(p.store, "tmp", fmt.Sprintf("file-%d-1", deadPID(t)), "view1")
	if err := os.MkdirAll(view, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("overlay", view, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowers, ":")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(view, unix.MNT_DETACH) })

	out := p.ok("store", "verify", "--repair")
	if !strings.Contains(out, "stale mount (left by a killed kiln, now unmounted): "+view) {
		t.Errorf("store verify --repair does not report the view:\n%s", out)
	}
	checkNoLeftovers(t, p.store, nil, "", false)
	if ents, _ := os.ReadDir(filepath.Join(p.store, "tmp")); len(ents) != 0 {
		t.Errorf("tmp holds %d entries", len(ents))
	}
	// Every layer rehashes as recorded: nothing was deleted through the
	// view.
	p.verifyStore()
	p.ok("build", "--progress", "quiet", "stage.c")
}

// noMountsUnder fails if anything is mounted below dir, and unmounts it.
func noMountsUnder(t *testing.T, dir string) {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			t.Errorf("mount left: %s", f[4])
			unix.Unmount(f[4], unix.MNT_DETACH)
		}
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// stepCgroups lists the cgroup directories (in every hierarchy) of the
// steps with the given short digests.
func stepCgroups(t *testing.T, digests []string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(p, "/sys/fs/cgroup"), "/") > 5 {
			return filepath.SkipDir
		}
		for _, dg := range digests {
			if isStepCgroup(d.Name(), dg) {
				out = append(out, p)
				return filepath.SkipDir
			}
		}
		return nil
	})
	return out
}

// slowHCL has a step that runs until it is killed; ROUND gives each
// round's step a digest (and cgroup name) of its own.
const slowHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

variable "NAP" {
  type = string
}

variable "ROUND" {
  type = string
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "slow" {
  from = source.local.busybox
  run {
    shell = "echo started ${var.ROUND}; sleep ${var.NAP}"
  }
}

stage "quick" {
  from = source.local.busybox
  run {
    shell = "echo ${var.ROUND} > /quick"
  }
}
`

// TestKilledBuildsLeaveNoCgroups kills builds with SIGKILL at random
// moments, each in a store of its own that is never used again, as CI jobs
// do. The cgroups of their steps stayed for good: Cleanup found them only
// through the state directory of the store that was used. Now the next
// kiln to run a step removes them, whatever store it uses, and kiln store
// verify lists them and with --repair removes them.
func TestKilledBuildsLeaveNoCgroups(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("kills real builds; skipped with -short")
	}
	nap := uniqueNap()
	round := 0
	// kill runs and kills n builds, the last one while its step runs (so
	// that it leaves a cgroup for sure), the others at a random moment or
	// while their step runs; it returns the step digests of each build and
	// the pid of the last kiln.
	kill := func(n int) (digests [][]string, last int) {
		for i := range n {
			round++
			p := newProj(t, slowHCL, "")
			s := p.start("build", "--progress", "plain", "--var", "NAP="+nap, "--var", "ROUND="+strconv.Itoa(round), "stage.slow")
			if i == n-1 || rand.IntN(2) == 0 {
				s.waitLine(t, `\| started`)
			} else {
				time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond)
			}
			s.signal(t, syscall.SIGKILL)
			s.wait(t, 30*time.Second)
			// Nor a mount, wherever the kill landed: a root overlay
			// mounted while the step started used to stay.
			noMountsUnder(t, p.store)
			digests = append(digests, execDigests(s.output()))
			last = s.cmd.Process.Pid
		}
		return digests, last
	}

	digests, last := kill(5)
	// Each build that reached its step removed what the builds before it
	// left; only the last one's remain.
	if left := stepCgroups(t, slices.Concat(digests[:len(digests)-1]...)); len(left) > 0 {
		t.Errorf("killed builds in other stores left cgroups that the next build did not remove: %v", left)
	}
	left := stepCgroups(t, digests[len(digests)-1])
	if len(left) == 0 {
		t.Fatalf("the last killed build left no cgroup to clean; digests %v", digests)
	}
	q := newProj(t, slowHCL, "")
	out := q.ok("store", "verify")
	for _, c := range left {
		if strings.Contains(out, fmt.Sprintf("stale cgroup of kiln pid %d, which is gone: ", last)) && strings.Contains(out, c) {
			continue
		}
		// Any kiln that runs a step sweeps what dead kilns left beside its
		// own cgroups, and the test packages run in parallel: one of their
		// kilns may have removed this directory before verify looked.
		if _, err := os.Stat(c); errors.Is(err, fs.ErrNotExist) {
			t.Logf("%s was removed by another kiln before store verify ran", c)
			continue
		}
		t.Errorf("store verify does not report %s of kiln pid %d:\n%s", c, last, out)
	}
	if strings.Contains(out, "(removed)") {
		t.Errorf("store verify without --repair removed cgroups:\n%s", out)
	}
	out = q.ok("store", "verify", "--repair")
	if left := stepCgroups(t, digests[len(digests)-1]); len(left) > 0 {
		t.Errorf("store verify --repair left %v:\n%s", left, out)
	}

	digests, _ = kill(3)
	q.ok("build", "--progress", "plain", "--var", "NAP=0", "--var", "ROUND=next", "stage.quick")
	if left := stepCgroups(t, slices.Concat(digests...)); len(left) > 0 {
		t.Errorf("the next build left cgroups of killed builds: %v", left)
	}
	checkNoLeftovers(t, q.store, slices.Concat(digests...), "sleep\x00"+nap+"\x00", false)
}

// deepHCL is a stage of n file steps (n layers over busybox) and a stage
// on it with a copy, a file step and a run step whose root and input
// mounts are that stack.
func deepHCL(n int) string {
	var b strings.Builder
	b.WriteString(`
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "deep" {
  from = source.local.busybox
`)
	for i := range n {
		fmt.Fprintf(&b, "  file {\n    path    = \"/deep/f%d\"\n    content = \"%d\"\n  }\n", i, i)
	}
	b.WriteString(`}

stage "top" {
  from = stage.deep
  copy {
    from = stage.deep
    src  = ["/deep"]
    dest = "/copied"
  }
  mkdir {
    path = "/made"
  }
  run {
    shell = "echo counts $(ls /deep | wc -l) $(ls /copied | wc -l) $(ls /in/deep | wc -l) $(ls /rw/deep | wc -l); touch /rw/x"
    mount "input" {
      target = "/in"
      from   = stage.deep
    }
    mount "input" {
      target    = "/rw"
      from      = stage.deep
      readwrite = true
    }
  }
}
`)
	return b.String()
}

// TestDeepStacks: copy, file and run steps on stages of 60 and 200 layers.
// Their overlay mount options used to pass the kernel's one-page limit
// (about 40 store paths), and a copy failed with "mounting a view of 50
// layers: no such file or directory". Past overlayfs's own limit of 500
// layers the error says what to do.
func TestDeepStacks(t *testing.T) {
	testutil.RequireRoot(t)
	for _, n := range []int{60, 200} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			p := newProj(t, deepHCL(n), "")
			_, e, code := p.run("build", "--progress", "plain", "stage.top")
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, e)
			}
			if want := fmt.Sprintf("| counts %d %d %d %d", n, n, n, n); !strings.Contains(e, want) {
				t.Errorf("the run step did not see the whole stack (want %q):\n%s", want, e)
			}
			checkNoLeftovers(t, p.store, execDigests(e), "", false)
		})
	}
	t.Run("501", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds 500 steps; skipped with -short")
		}
		p := newProj(t, deepHCL(501), "")
		_, e, code := p.run("build", "--progress", "plain", "stage.deep")
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, e)
		}
		want := "failed: a state of 501 layers is more than overlayfs can stack (at most 500); merge some of the steps of this stage"
		if !strings.Contains(e, "stage.deep/file[500]") || !strings.Contains(e, want) {
			t.Errorf("no clear error for the step past the limit (want %q):\n%s", want, e)
		}
	})
}
