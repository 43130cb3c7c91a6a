package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

// leftoverVerifyDirs lists the throw-away folders kiln verify left in tmp.
func leftoverVerifyDirs(t *testing.T, tmp string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(tmp, "kiln-verify-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestVerifyRemovesThrowAwayStores: the rebuilds' stores are removed when
// verify succeeds, and when it is interrupted in the middle of a rebuild.
func TestVerifyRemovesThrowAwayStores(t *testing.T) {
	testutil.RequireRoot(t)
	p := newProj(t, interruptHCL, "")
	tmp := t.TempDir()
	p.env = []string{"TMPDIR=" + tmp}

	p.ok("verify", "--vary", "none", "--progress", "quiet", "--var", "NAP=0", "stage.long")
	if m := leftoverVerifyDirs(t, tmp); len(m) != 0 {
		t.Fatalf("kiln verify left %v", m)
	}

	// The first build comes from the store; the rebuild runs the step.
	nap := "4"
	p.ok("build", "--progress", "quiet", "--var", "NAP="+nap, "stage.long")
	s := p.start("verify", "--vary", "none", "--progress", "quiet", "--var", "NAP="+nap, "stage.long")
	// Wait for the rebuild (a kiln whose store is under tmp), then for it
	// to be inside its step.
	deadline := time.Now().Add(time.Minute)
	for !rebuildRunning(tmp) {
		if time.Now().After(deadline) {
			t.Fatalf("the rebuild never started:\n%s", s.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	if !s.signal(t, syscall.SIGINT) {
		t.Fatalf("kiln verify ended before it was interrupted:\n%s", s.output())
	}
	code := s.wait(t, 30*time.Second)
	if code == 0 || code == -1 {
		t.Fatalf("interrupted verify: exit %d, want a failure\n%s", code, s.output())
	}
	if !strings.Contains(s.output(), "interrupted") {
		t.Errorf("kiln verify does not say it was interrupted:\n%s", s.output())
	}
	if m := leftoverVerifyDirs(t, tmp); len(m) != 0 {
		var ls []string
		filepath.Walk(m[0], func(p string, _ os.FileInfo, _ error) error { ls = append(ls, p); return nil })
		t.Fatalf("interrupted kiln verify left %v:\n%s", m, strings.Join(ls[:min(len(ls), 20)], "\n"))
	}
}

func rebuildRunning(tmp string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "--store\x00"+tmp) {
			return true
		}
	}
	return false
}
