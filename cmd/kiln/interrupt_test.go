package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

const interruptHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

variable "NAP" {
  type = string
}

source "local" "busybox" {
  path = "base/rootfs"
}

stage "long" {
  from = source.local.busybox
  run {
    shell = "echo started; sleep ${var.NAP}; echo done > /long"
  }
}

stage "beside" {
  from = source.local.busybox
  run {
    shell = "echo side; sleep ${var.NAP}"
  }
}

group "both" {
  targets = ["stage.long", "stage.beside"]
}
`

// TestInterrupt sends SIGINT (Ctrl-C) to kiln build while two steps run:
// kiln exits promptly with a non-zero code and says it was interrupted;
// no process, mount, cgroup or sandbox state of the steps is left; the
// store is consistent and the next build succeeds.
func TestInterrupt(t *testing.T) {
	testutil.RequireRoot(t)
	p := newProj(t, interruptHCL, "")
	// A sleep of its own, so that the steps of another kiln (say, an
	// earlier run of this test that was itself killed) are not ours.
	nap := uniqueNap()
	s := p.start("build", "--progress", "plain", "-j", "2", "--var", "NAP="+nap, "both")
	s.waitLines(t, `\| started`, `\| side`)
	if !s.signal(t, syscall.SIGINT) {
		t.Fatalf("kiln ended before it was interrupted:\n%s", s.output())
	}
	sent := time.Now()
	code := s.wait(t, 20*time.Second)
	took := time.Since(sent)
	out := s.output()
	if code == 0 || code == -1 {
		t.Fatalf("interrupted build: exit %d, want a non-zero exit code\n%s", code, out)
	}
	if took > 10*time.Second {
		t.Errorf("kiln took %s to stop after SIGINT", took)
	}
	if !strings.Contains(out, "interrupted") {
		t.Errorf("kiln does not say it was interrupted:\n%s", out)
	}
	t.Logf("stopped %s after SIGINT with exit %d", took.Round(time.Millisecond), code)
	checkNoLeftovers(t, p.store, execDigests(out), "sleep\x00"+nap+"\x00", false)
	p.verifyStore()
	p.ok("build", "--progress", "plain", "--var", "NAP=0", "both")
}
