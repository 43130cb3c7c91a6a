package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

// sharedHCL has three shared stages and eight targets, each built on one
// of them with a copy from another, so that eight builds of eight
// targets overlap: each shared stage is wanted by several at once. "nap"
// sleeps NAP seconds, for tests that need a build to be busy.
const sharedHCL = `
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

stage "s1" {
  from = source.local.busybox
  run {
    shell = "sleep 0.5; echo s1 > /s1"
  }
}

stage "s2" {
  from = stage.s1
  run {
    shell = "sleep 0.3; echo s2 > /s2"
  }
}

stage "s3" {
  from = source.local.busybox
  run {
    shell = "sleep 0.5; echo s3 > /s3"
  }
}
%s
stage "nap" {
  from = source.local.busybox
  run {
    shell = "echo napping; sleep ${var.NAP}; echo done > /nap"
  }
}

stage "small" {
  from = source.local.busybox
  run {
    shell = "echo small > /small"
  }
}
`

var sharedTargets = func() []string {
	var ts []string
	for i := 1; i <= 8; i++ {
		ts = append(ts, fmt.Sprintf("stage.t%d", i))
	}
	return ts
}()

func sharedProjectHCL() string {
	var b strings.Builder
	for i := 1; i <= 8; i++ {
		from, other := "s2", "s3"
		if i%2 == 0 {
			from, other = "s3", "s1"
		}
		fmt.Fprintf(&b, `
stage "t%d" {
  from = stage.%s
  copy {
    from = stage.%s
    src  = ["/%s"]
    dest = "/in/"
  }
  run {
    shell = "echo t%d > /t; cat /in/* >> /t"
  }
}
`, i, from, other, other, i)
	}
	return fmt.Sprintf(sharedHCL, b.String())
}

// doneDigests are the derivations a --progress json log shows built.
func doneDigests(t *testing.T, stderr string) []string {
	t.Helper()
	var ds []string
	for _, l := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var e struct{ Event, Digest string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("progress line %q: %v", l, err)
		}
		if e.Event == "done" {
			ds = append(ds, e.Digest)
		}
	}
	return ds
}

// sequentialOutputs builds each target alone in a fresh store: what
// concurrent builds must agree with.
func sequentialOutputs(t *testing.T, hcl string, targets []string) map[string][]string {
	ref := newProj(t, hcl, "")
	want := map[string][]string{}
	for _, tg := range targets {
		want[tg] = outputIDs(t, ref.ok("build", "--progress", "quiet", tg))
	}
	return want
}

type sharedResult struct {
	target         string
	stdout, stderr string
	code           int
}

// buildAll runs one kiln build per target at once on p's store.
func buildAll(p *proj, targets []string) []sharedResult {
	res := make([]sharedResult, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, e, code := p.run("build", "--progress", "json", tg)
			res[i] = sharedResult{tg, o, e, code}
		}()
	}
	wg.Wait()
	return res
}

// TestReadOnlyAndSmallBuildsDoNotWait: while a build sleeps in a step,
// kiln plan of another target and a small build of another target in the
// same store finish at once.
func TestReadOnlyAndSmallBuildsDoNotWait(t *testing.T) {
	testutil.RequireRoot(t)
	p := newProj(t, sharedProjectHCL(), "")
	p.ok("build", "--progress", "quiet", "stage.s1") // the store exists
	nap := uniqueNap()
	s := p.start("build", "--progress", "plain", "--var", "NAP="+nap, "stage.nap")
	s.waitLine(t, `\| napping`)

	start := time.Now()
	p.ok("plan", "stage.t1")
	planTook := time.Since(start)
	start = time.Now()
	_, stderr, code := p.run("build", "--progress", "plain", "stage.small")
	smallTook := time.Since(start)
	if code != 0 {
		t.Fatalf("small build next to a sleeping one: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stderr, "waiting for the store") {
		t.Errorf("small build waited:\n%s", stderr)
	}
	for _, c := range []string{"show", "graph", "store du", "store ls"} {
		start := time.Now()
		p.ok(append(strings.Fields(c), map[string][]string{"show": {"stage.t1"}, "graph": {"stage.t1"}}[c]...)...)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("kiln %s took %s next to a sleeping build", c, d)
		}
	}
	t.Logf("next to a sleeping build: plan %s, small build %s", planTook, smallTook)
	if planTook > time.Second {
		t.Errorf("kiln plan took %s next to a sleeping build, want well under a second", planTook)
	}
	if smallTook > 10*time.Second {
		t.Errorf("small build took %s next to a sleeping build", smallTook)
	}
	select {
	case <-s.done:
		t.Fatalf("the sleeping build ended early:\n%s", s.output())
	default:
	}
	s.signal(t, syscall.SIGINT)
	s.wait(t, 30*time.Second)
	p.verifyStore()
}

// TestEightBuildsShareWork runs eight builds of overlapping targets on one
// store at once: all succeed, each derivation is built by exactly one of
// them, and the outputs are those of builds alone in fresh stores.
func TestEightBuildsShareWork(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("runs eight real builds at once; skipped with -short")
	}
	hcl := sharedProjectHCL()
	want := sequentialOutputs(t, hcl, sharedTargets)
	p := newProj(t, hcl, filepath.Join(t.TempDir(), "store"))
	res := buildAll(p, sharedTargets)
	built := map[string]int{}
	for _, r := range res {
		if r.code != 0 {
			t.Fatalf("build of %s: exit %d\n%s", r.target, r.code, r.stderr)
		}
		if got := outputIDs(t, r.stdout); !slices.Equal(got, want[r.target]) {
			t.Errorf("%s gives %v, alone in its own store %v", r.target, got, want[r.target])
		}
		for _, d := range doneDigests(t, r.stderr) {
			built[d]++
		}
	}
	for d, n := range built {
		if n != 1 {
			t.Errorf("derivation %s built %d times, want once", d, n)
		}
	}
	// source, s1, s2, s3, and per target its copy and run step at most.
	if len(built) < 4+8 {
		t.Errorf("only %d derivations built by the eight builds", len(built))
	}
	p.verifyStore()
}

// TestKilledParticipants kills random builds among eight on one store
// (the index owner among them, at times): the others succeed, the store
// verifies clean, and building everything again gives the outputs of
// builds alone in fresh stores.
func TestKilledParticipants(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("kills real builds; skipped with -short")
	}
	hcl := sharedProjectHCL()
	want := sequentialOutputs(t, hcl, sharedTargets)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12))
	for round := range 3 {
		p := newProj(t, hcl, filepath.Join(t.TempDir(), "store"))
		procs := make([]*started, len(sharedTargets))
		for i, tg := range sharedTargets {
			procs[i] = p.start("build", "--progress", "json", tg)
		}
		time.Sleep(time.Duration(100+rng.IntN(1500)) * time.Millisecond)
		killed := map[int]bool{}
		for _, i := range rng.Perm(len(procs))[:3] {
			if procs[i].signal(t, syscall.SIGKILL) {
				killed[i] = true
			}
		}
		for i, s := range procs {
			code := s.wait(t, 3*time.Minute)
			if !killed[i] && code != 0 {
				t.Fatalf("round %d: build of %s (not killed) failed: exit %d\n%s", round, sharedTargets[i], code, s.output())
			}
		}
		p.verifyStore()
		for _, tg := range sharedTargets {
			if got := outputIDs(t, p.ok("build", "--progress", "quiet", tg)); !slices.Equal(got, want[tg]) {
				t.Errorf("round %d: rebuilt %s gives %v, want %v", round, tg, got, want[tg])
			}
		}
		p.verifyStore()
	}
}

// TestGCDuringBuilds collects garbage over and over while eight builds
// run: nothing they use or produce is removed.
func TestGCDuringBuilds(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("runs eight real builds at once; skipped with -short")
	}
	hcl := sharedProjectHCL()
	want := sequentialOutputs(t, hcl, sharedTargets)
	p := newProj(t, hcl, filepath.Join(t.TempDir(), "store"))
	stop := make(chan struct{})
	gcs := 0
	var gcErr string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, e, code := p.run("store", "gc", "--all"); code != 0 {
				gcErr = e
				return
			}
			gcs++
		}
	}()
	res := buildAll(p, sharedTargets)
	close(stop)
	wg.Wait()
	if gcErr != "" {
		t.Fatalf("store gc next to builds failed:\n%s", gcErr)
	}
	t.Logf("%d collections ran next to the builds", gcs)
	for _, r := range res {
		if r.code != 0 {
			t.Fatalf("build of %s next to gc: exit %d\n%s", r.target, r.code, r.stderr)
		}
		if got := outputIDs(t, r.stdout); !slices.Equal(got, want[r.target]) {
			t.Errorf("%s gives %v, want %v", r.target, got, want[r.target])
		}
	}
	p.verifyStore()
	// The builds' roots keep their outputs: rebuilding builds nothing.
	for _, tg := range sharedTargets {
		_, e, code := p.run("build", "--progress", "json", tg)
		if code != 0 {
			t.Fatalf("rebuild of %s: %s", tg, e)
		}
		if ds := doneDigests(t, e); len(ds) > 0 {
			t.Errorf("rebuild of %s after gc built %d derivations, want none", tg, len(ds))
		}
	}
}

// TestWaitingForAnotherBuildFreesTheSlot: a build with one job slot that
// needs a derivation another process is building waits for it without
// holding the slot, so its other steps run meanwhile.
func TestWaitingForAnotherBuildFreesTheSlot(t *testing.T) {
	testutil.RequireRoot(t)
	hcl := sharedProjectHCL() + `
stage "after" {
  from = stage.small
  run {
    shell = "echo after > /after"
  }
}
`
	p := newProj(t, hcl, "")
	p.ok("build", "--progress", "quiet", "stage.s1") // the store exists
	nap := uniqueNap()
	a := p.start("build", "--progress", "plain", "--var", "NAP="+nap, "stage.nap")
	a.waitLine(t, `\| napping`)
	// With -j 1, "after" is ready only once "small" is built, when the
	// nap (wanted too, built by a) already waits for the one slot: only
	// a wait that gives the slot back lets "after" run before a ends.
	b := p.start("build", "--progress", "json", "-j", "1", "--var", "NAP="+nap, "stage.nap", "stage.after")
	b.waitLine(t, `"event":"done".*"name":"stage\.after/`)
	select {
	case <-a.done:
		t.Fatalf("the napping build ended early:\n%s", a.output())
	default:
	}
	for _, s := range []*started{a, b} {
		s.signal(t, syscall.SIGINT)
		s.wait(t, 30*time.Second)
	}
	p.verifyStore()
}

// TestBuildNextToReadOnlyOwner: kiln plan came first and owns the store's
// index, opened read-only; it is held up while it prints (its stdout is
// a full pipe). A build next to it runs at once and records its results,
// which the owner writes for it, and they are there afterwards.
func TestBuildNextToReadOnlyOwner(t *testing.T) {
	testutil.RequireRoot(t)
	var b strings.Builder
	b.WriteString(sharedProjectHCL())
	// A plan whose JSON is larger than a pipe holds (64 KiB).
	for i := range 300 {
		fmt.Fprintf(&b, "stage \"f%03d\" {\n  from = source.local.busybox\n  file {\n    path    = \"/f\"\n    content = \"%d\\n\"\n  }\n}\n", i, i)
	}
	p := newProj(t, b.String(), "")
	p.ok("build", "--progress", "quiet", "stage.s1") // the index exists
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var targets []string
	for i := range 300 {
		targets = append(targets, fmt.Sprintf("stage.f%03d", i))
	}
	plan := p.cmd(append([]string{"plan", "--json"}, targets...)...)
	plan.Stdout = w
	var planErr strings.Builder
	plan.Stderr = &planErr
	if err := plan.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer plan.Process.Kill()
	// The plan owns the index once its pid is in index.lock.
	lockFile := filepath.Join(p.store, "index.lock")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, _ := os.ReadFile(lockFile); strings.TrimSpace(string(b)) == strconv.Itoa(plan.Process.Pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiln plan did not come to own the index within 30s:\n%s", planErr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	_, e, code := p.run("build", "--progress", "plain", "stage.small")
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("build next to a read-only owner: exit %d\n%s", code, e)
	}
	t.Logf("build next to kiln plan owning the index: %s", took)
	if took > 20*time.Second {
		t.Errorf("build next to a read-only owner took %s", took)
	}
	if b, _ := os.ReadFile(lockFile); strings.TrimSpace(string(b)) != strconv.Itoa(plan.Process.Pid) {
		t.Fatal("kiln plan let the index go before the build ended: the test tests nothing")
	}
	p.builtNothing("stage.small next to the plan", "stage.small")
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	if err := plan.Wait(); err != nil {
		t.Fatalf("kiln plan: %v\n%s", err, planErr.String())
	}
	p.builtNothing("stage.small after the plan", "stage.small")
	p.verifyStore()
}
