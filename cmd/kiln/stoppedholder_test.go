package main

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

// TestStoppedBuildLockHolder: a kiln stopped (SIGSTOP, Ctrl-Z) while it
// builds a derivation another build wants makes that build fail within a
// bound, naming the pid, the derivation and how to resume it, rather than
// wait forever; once it resumes it finishes, and the other build then
// reuses its result.
func TestStoppedBuildLockHolder(t *testing.T) {
	testutil.RequireRoot(t)
	p := newProj(t, sharedProjectHCL(), "")
	p.ok("build", "--progress", "quiet", "stage.s1") // the store exists
	// A first build owns the store's index and keeps it while it naps,
	// so that stopping the holder below stops only its build lock.
	owner := p.start("build", "--progress", "plain", "--var", "NAP="+uniqueNap(), "stage.nap")
	owner.waitLine(t, `\| napping`)
	defer func() {
		owner.signal(t, syscall.SIGINT)
		owner.wait(t, 30*time.Second)
	}()
	holder := p.start("build", "--progress", "plain", "--var", "NAP=2", "stage.nap")
	holder.waitLine(t, `\| napping`)
	holder.signal(t, syscall.SIGSTOP)
	defer holder.signal(t, syscall.SIGCONT)

	start := time.Now()
	_, stderr, code := p.run("build", "--progress", "plain", "--var", "NAP=2", "stage.nap")
	took := time.Since(start)
	t.Logf("next to a stopped holder: exit %d after %s:\n%s", code, took.Round(time.Millisecond), stderr)
	pid := strconv.Itoa(holder.cmd.Process.Pid)
	if code != 1 {
		t.Errorf("build next to a stopped holder: exit %d, want 1", code)
	}
	for _, want := range []string{
		"stage.nap",
		"which another kiln process is building: kiln pid " + pid + " holds it and has been stopped",
		"resume it (fg, or kill -CONT " + pid + ") or end it",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("its error does not say %q", want)
		}
	}
	// 2 s stopped, plus a loaded machine's start-up.
	if took > 20*time.Second {
		t.Errorf("it took %s to give up, want about 2s", took)
	}

	holder.signal(t, syscall.SIGCONT)
	if code := holder.wait(t, time.Minute); code != 0 {
		t.Fatalf("the resumed build: exit %d:\n%s", code, holder.output())
	}
	_, stderr, code = p.run("build", "--progress", "json", "--var", "NAP=2", "stage.nap")
	if code != 0 {
		t.Fatalf("the build again after the holder resumed: exit %d:\n%s", code, stderr)
	}
	if ds := doneDigests(t, stderr); len(ds) != 0 {
		t.Errorf("the build again rebuilt %d derivations, want the resumed build's result reused", len(ds))
	}
}

// TestWaitingForLockedCacheFreesTheSlot: a step waiting for a
// sharing = "locked" cache mount that another kiln's step holds gives its
// job slot back meanwhile, so that with -j 1 the build's other steps run.
func TestWaitingForLockedCacheFreesTheSlot(t *testing.T) {
	testutil.RequireRoot(t)
	p := newProj(t, `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

variable "NAP" {
  type    = string
  default = "0"
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "hold" {
  from = source.local.busybox
  run {
    shell = "echo holding; sleep ${var.NAP}; echo > /h"
    mount "cache" {
      target  = "/c"
      id      = "one-at-a-time"
      sharing = "locked"
    }
  }
}

stage "waiter" {
  from = source.local.busybox
  run {
    shell = "echo waited > /w"
    mount "cache" {
      target  = "/c"
      id      = "one-at-a-time"
      sharing = "locked"
    }
  }
}

stage "small" {
  from = source.local.busybox
  run {
    shell = "echo small > /small"
  }
}

stage "after" {
  from = stage.small
  run {
    shell = "echo after > /after"
  }
}
`, "")
	a := p.start("build", "--progress", "plain", "--var", "NAP="+uniqueNap(), "stage.hold")
	a.waitLine(t, `\| holding`)
	// With -j 1, "after" is ready only once "small" is built, and
	// "waiter", ready from the start, is then ahead of it for the one
	// slot: only a wait for the cache that gives the slot back lets
	// "after" run before a ends.
	b := p.start("build", "--progress", "json", "-j", "1", "stage.waiter", "stage.after")
	b.waitLine(t, `"event":"done".*"name":"stage\.after/`)
	select {
	case <-a.done:
		t.Fatalf("the build holding the cache ended early:\n%s", a.output())
	default:
	}
	for _, s := range []*started{a, b} {
		s.signal(t, syscall.SIGINT)
		s.wait(t, 30*time.Second)
	}
	p.verifyStore()
}
