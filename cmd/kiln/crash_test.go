package main

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

// crashHCL has a step that sleeps (to be killed while it runs) and one
// that writes 1500 files (so that normalizing, hashing, syncing,
// renaming and indexing its layer take long enough to be killed in). ROUND
// changes the files, so that each round adds a new layer.
const crashHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

variable "NAP" {
  type    = string
  default = "0"
}

variable "ROUND" {
  type    = string
  default = "0"
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "slow" {
  from = source.local.busybox
  run {
    shell = "echo started; sleep ${var.NAP}; echo done > /slow"
  }
}

stage "many" {
  from = source.local.busybox
  run {
    shell = "echo kilncrashmarker making; mkdir /many; awk -v R=${var.ROUND} 'BEGIN{for(i=0;i<1500;i++){f=\"/many/f\" i; print i, R > f; close(f)}}'; echo kilncrashmarker written"
  }
  run {
    shell = "ls /many | wc -l > /count"
  }
}
`

// TestCrashSafety kills kiln build with SIGKILL while a step runs and at a
// sweep of moments while a large output is stored and indexed. After each
// kill the store must verify as consistent, and the next build must
// complete with the same outputs as a clean build in a fresh store, leaving
// no mount, cgroup or process behind.
func TestCrashSafety(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("kills real builds; skipped with -short")
	}
	ref := newProj(t, crashHCL, "")
	p := newProj(t, crashHCL, "")

	// Killed in the middle of an exec.
	nap := uniqueNap()
	s := p.start("build", "--progress", "plain", "--var", "NAP="+nap, "stage.slow")
	s.waitLine(t, `\| started`)
	if !s.signal(t, syscall.SIGKILL) {
		t.Fatalf("kiln ended before it was killed:\n%s", s.output())
	}
	s.wait(t, 30*time.Second)
	digests := execDigests(s.output())
	p.verifyStore()
	// The slow step cannot finish; a build of the other target must still
	// clean up after the killed sandbox when it runs its first step.
	_, e, code := p.run("build", "--progress", "plain", "--var", "ROUND=0", "stage.many")
	if code != 0 {
		t.Fatalf("build after a kill during an exec: exit %d\n%s", code, e)
	}
	checkNoLeftovers(t, p.store, digests, "sleep\x00"+nap+"\x00", false)

	// Killed at a sweep of moments around the end of the step that writes
	// the files: while it runs, then while its output is normalized,
	// hashed, synced, renamed into place, indexed and recorded. How long
	// that takes comes from the reference build.
	refOut := map[string][]string{}
	var runs, adds []time.Duration
	type kill struct {
		after string  // the log line the delay counts from
		frac  float64 // of the span that follows that line
	}
	rounds := []kill{{"making", 0.5}, {"written", 0.1}, {"written", 0.4}, {"written", 0.7}, {"written", 1.0}}
	for i := range rounds {
		round := fmt.Sprint(i + 1)
		rs := ref.start("build", "--progress", "plain", "--var", "ROUND="+round, "stage.many")
		rs.waitLine(t, `\| kilncrashmarker making`)
		t0 := time.Now()
		rs.waitLine(t, `\| kilncrashmarker written`)
		t1 := time.Now()
		rs.waitLine(t, `stage\.many/run\[0\]: done in`)
		runs, adds = append(runs, t1.Sub(t0)), append(adds, time.Since(t1))
		if code := rs.wait(t, time.Minute); code != 0 {
			t.Fatalf("reference build: exit %d\n%s", code, rs.output())
		}
		refOut[round] = outputIDs(t, ref.ok("build", "--progress", "quiet", "--var", "ROUND="+round, "stage.many"))
	}
	// The median, since the machine's load makes single runs vary.
	slices.Sort(runs)
	slices.Sort(adds)
	run, add := runs[len(runs)/2], adds[len(adds)/2]
	t.Logf("the many-files step runs for %s, storing its output takes %s", run, add)
	for i, k := range rounds {
		round := fmt.Sprint(i + 1)
		span := map[string]time.Duration{"making": run, "written": add}[k.after]
		delay := time.Duration(k.frac * float64(span))
		s := p.start("build", "--progress", "plain", "--var", "ROUND="+round, "stage.many")
		s.waitLine(t, `\| kilncrashmarker `+k.after)
		time.Sleep(delay)
		killed := s.signal(t, syscall.SIGKILL)
		s.wait(t, 30*time.Second)
		digests := execDigests(s.output())
		what := "while it ran"
		switch l := s.output(); {
		case !killed:
			what = "too late: the build had ended (the machine was faster than the reference)"
		case strings.Contains(l, "stage.many/run[0]: done in"):
			what = "after it was recorded"
		case strings.Contains(l, "kilncrashmarker written"):
			what = "while its output was stored"
		}
		t.Logf("round %s: killed %s after %q: %s", round, delay.Round(time.Millisecond), k.after, what)
		p.verifyStore()

		o, e, code := p.run("build", "--progress", "plain", "--var", "ROUND="+round, "stage.many")
		if code != 0 {
			t.Fatalf("round %s: build after the kill: exit %d\n%s", round, code, e)
		}
		if got := outputIDs(t, o); !slices.Equal(got, refOut[round]) {
			t.Errorf("round %s: after the kill the build gives %v, a clean build %v", round, got, refOut[round])
		}
		checkNoLeftovers(t, p.store, digests, "kilncrashmarker", false)
		p.verifyStore()
	}
}
