package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// TestHelperProcess is not a test: it is the body of the child processes
// that the tests below start, selected by KILN_STORE_HELPER.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("KILN_STORE_HELPER")
	if mode == "" {
		t.Skip("helper process only")
	}
	root := os.Getenv("KILN_STORE_HELPER_ROOT")
	if err := runHelper(mode, root); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runHelper(mode, root string) error {
	notice := WithWaitNotice(func(pid int) { fmt.Printf("waiting %d\n", pid) })
	switch mode {
	case "hold":
		s, err := Open(root, notice)
		if err != nil {
			return err
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return s.Close()
	case "open":
		s, err := Open(root, notice)
		if err != nil {
			return err
		}
		fmt.Println("opened")
		if err := churnOnce(s, "open-"+strconv.Itoa(os.Getpid())); err != nil {
			return err
		}
		return s.Close()
	case "hold-ro":
		// A read-only user (kiln plan, repro verify) owning the index.
		s, err := Open(root, WithReadOnly())
		if err != nil {
			return err
		}
		if _, _, err := s.Lookup(drv("none")); err != nil {
			return err
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return s.Close()
	case "closed-short":
		// A command's no-op: it owned the index read-only, closed its
		// Store and has not exited yet.
		s, err := Open(root, WithShortLived())
		if err != nil {
			return err
		}
		if _, _, err := s.Lookup(drv("first")); err != nil {
			return err
		}
		if s.ix.owned == nil || s.ix.owned.local.rw {
			return fmt.Errorf("want a read-only owner")
		}
		if err := s.Close(); err != nil {
			return err
		}
		fmt.Println("closed")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return nil
	case "old":
		// An older kiln: the process lock, exclusively, for its life.
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		f, err := acquireLock(root+"/lock", false, nil)
		if err != nil {
			return err
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		releaseLock(f, false)
		return nil
	case "build":
		// Builds drv("x") unless another process has: prints "built" or
		// "reused".
		s, err := Open(root)
		if err != nil {
			return err
		}
		defer s.Close()
		_, ok, unlock, err := s.LockBuild(context.Background(), drv("x"), nil)
		if err != nil {
			return err
		}
		defer unlock()
		if ok {
			fmt.Println("reused")
			return nil
		}
		time.Sleep(300 * time.Millisecond)
		if err := churnOnce(s, "x"); err != nil {
			return err
		}
		fmt.Println("built")
		return nil
	case "hold-build":
		// Takes the build lock of drv("x") and holds it until stdin
		// closes, then records x: prints "holding", then "built".
		s, err := Open(root)
		if err != nil {
			return err
		}
		defer s.Close()
		_, _, unlock, err := s.LockBuild(context.Background(), drv("x"), nil)
		if err != nil {
			return err
		}
		defer unlock()
		fmt.Println("holding")
		_, _ = io.Copy(io.Discard, os.Stdin)
		if err := churnOnce(s, "x"); err != nil {
			return err
		}
		fmt.Println("built")
		return nil
	case "pin":
		// Records its own derivations and holds them (temp roots) until
		// stdin closes, then checks they are all still there.
		s, err := Open(root)
		if err != nil {
			return err
		}
		defer s.Close()
		for i := range 5 {
			if err := churnOnce(s, fmt.Sprintf("pin-%d", i)); err != nil {
				return err
			}
		}
		fmt.Println("pinned")
		_, _ = io.Copy(io.Discard, os.Stdin)
		for i := range 5 {
			out, ok, err := s.Lookup(drv(fmt.Sprintf("pin-%d", i)))
			if err != nil || !ok {
				return fmt.Errorf("pin-%d is gone: %v", i, err)
			}
			for _, l := range out.Layers {
				if got, err := treeDigest(s.LayerPath(l)); err != nil || got != l {
					return fmt.Errorf("layer %s of pin-%d: %v", l, i, err)
				}
			}
		}
		fmt.Println("ok")
		return nil
	case "worker":
		// Several sessions of adds and records of content shared with the
		// other workers, so that they race on the same names.
		id := os.Getenv("KILN_STORE_HELPER_ID")
		for session := range 4 {
			s, err := Open(root, notice)
			if err != nil {
				return err
			}
			for j := range 3 {
				n := strconv.Itoa(session*3 + j)
				if err := churnOnce(s, "shared-"+n); err != nil {
					s.Close()
					return err
				}
				if err := churnOnce(s, "own-"+id+"-"+n); err != nil {
					s.Close()
					return err
				}
			}
			if err := s.Close(); err != nil {
				return err
			}
		}
		return nil
	case "churn":
		// Adds and records forever, until the parent kills it.
		s, err := Open(root)
		if err != nil {
			return err
		}
		seed := os.Getenv("KILN_STORE_HELPER_SEED")
		for i := 0; ; i++ {
			// Every other name repeats an earlier round's, so that adds
			// of objects left unindexed by an earlier kill are exercised.
			name := fmt.Sprintf("%s-%d", seed, i)
			if i%2 == 1 {
				name = fmt.Sprintf("r-%d", i)
			}
			if err := churnOnce(s, name); err != nil {
				return err
			}
			fmt.Printf("iter %d\n", i)
		}
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// churnOnce adds a blob and a layer and records a derivation naming both.
func churnOnce(s *Store, name string) error {
	d, _, err := s.AddBlob(strings.NewReader(strings.Repeat("blob "+name+"\n", 200)), "")
	if err != nil {
		return err
	}
	l, err := addLayerErr(s, map[string]string{
		"a/" + name: "content of " + name,
		"b/c":       strings.Repeat("x", 4096),
	})
	if err != nil {
		return err
	}
	if err := s.Record(drv(name), Output{Layers: []digest.Digest{l}, Blobs: []digest.Digest{d}}); err != nil {
		return err
	}
	return nil
}

// TestProcessesShareTheStore: while one process has the store open (and
// owns its index), another opens it, adds, records and closes without
// waiting.
func TestProcessesShareTheStore(t *testing.T) {
	root := t.TempDir()
	holder := helper(t, root, "hold")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	hl := lines(t, holder)
	expectLine(t, hl, "locked", 30*time.Second)

	start := time.Now()
	other := helper(t, root, "open")
	out, err := other.Output()
	if err != nil || !strings.Contains(string(out), "opened") {
		t.Fatalf("second process: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "waiting") {
		t.Errorf("second process waited: %s", out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second process took %s next to the first", d)
	}
	stdin.Close()
	if err := holder.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	s := openT(t, root)
	rep, err := s.Verify(false, rehash)
	if err != nil || !rep.Consistent() || rep.Derivations != 1 {
		t.Fatalf("Verify: %v %+v", err, rep)
	}
}

// TestOlderKilnMakesUsWait: an older kiln takes the store for itself
// alone; this one waits for it, naming it, rather than sharing badger.
func TestOlderKilnMakesUsWait(t *testing.T) {
	root := t.TempDir()
	holder := helper(t, root, "old")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	hl := lines(t, holder)
	expectLine(t, hl, "locked", 30*time.Second)

	waiter := helper(t, root, "open")
	wl := lines(t, waiter)
	got := expectLine(t, wl, "waiting ", 30*time.Second)
	if want := fmt.Sprintf("waiting %d", holder.Process.Pid); got != want {
		t.Errorf("wait notice = %q, want %q", got, want)
	}
	select {
	case l := <-wl:
		t.Fatalf("waiter printed %q while the older kiln still holds the store", l)
	case <-time.After(200 * time.Millisecond):
	}
	stdin.Close()
	if err := holder.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	expectLine(t, wl, "opened", 30*time.Second)
	if err := waiter.Wait(); err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

// TestLockBuildBuildsOnce: of several processes wanting one derivation at
// once, one builds it and the others wait for it and reuse it.
func TestLockBuildBuildsOnce(t *testing.T) {
	root := t.TempDir()
	const n = 4
	outs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := helper(t, root, "build")
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := cmd.Output()
			if err != nil {
				t.Errorf("builder %d: %v", i, err)
			}
			outs[i] = strings.TrimSpace(string(b))
		}()
	}
	wg.Wait()
	built := 0
	for _, o := range outs {
		if o == "built" {
			built++
		} else if o != "reused" {
			t.Errorf("builder said %q", o)
		}
	}
	if built != 1 {
		t.Errorf("%d of %d processes built the derivation, want 1: %v", built, n, outs)
	}
	if ents, _ := os.ReadDir(root + "/locks"); len(ents) != 0 {
		t.Errorf("locks/ holds %d files after the builds", len(ents))
	}
}

// TestGCKeepsWhatLiveProcessesHold: a GC that would remove everything
// unrooted leaves what another live process looked up or recorded.
func TestGCKeepsWhatLiveProcessesHold(t *testing.T) {
	root := t.TempDir()
	pinner := helper(t, root, "pin")
	stdin, err := pinner.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pl := lines(t, pinner)
	expectLine(t, pl, "pinned", 30*time.Second)
	s := openT(t, root)
	if err := churnOnce(s, "mine"); err != nil {
		t.Fatal(err)
	}
	rep, err := s.GC(GCPolicy{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Derivations != 1 {
		t.Errorf("GC removed %d derivations, want only this process's 1: %+v", rep.Derivations, rep)
	}
	stdin.Close()
	expectLine(t, pl, "ok", 30*time.Second)
	if err := pinner.Wait(); err != nil {
		t.Fatalf("pinner: %v", err)
	}
	// With the pinner gone, its derivations are garbage like any other.
	rep, err = s.GC(GCPolicy{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Derivations != 5 {
		t.Errorf("second GC removed %d derivations, want the pinner's 5", rep.Derivations)
	}
	checkConsistent(t, s)
}

func TestLockWaitNoticeInProcess(t *testing.T) {
	// A second Open in one process must fail clearly, not deadlock on its
	// own flock.
	root := t.TempDir()
	openT(t, root)
	if _, err := Open(root); err == nil || !strings.Contains(err.Error(), "already open in this process") {
		t.Fatalf("second Open = %v, want an 'already open' error", err)
	}
}

func TestConcurrentProcesses(t *testing.T) {
	for _, n := range []int{2, 4} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			root := t.TempDir()
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				cmd := helper(t, root, "worker", "KILN_STORE_HELPER_ID="+strconv.Itoa(i))
				cmd.Stdout = io.Discard
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = cmd.Run()
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("worker %d: %v", i, err)
				}
			}
			s := openT(t, root)
			rep, err := s.Verify(false, rehash)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Consistent() || len(rep.Orphans) > 0 || len(rep.Stale) > 0 {
				t.Fatalf("store after %d workers: %+v", n, rep)
			}
			// 12 shared derivations plus 12 of each worker's own.
			if want := 12 + 12*n; rep.Derivations != want {
				t.Errorf("derivations = %d, want %d", rep.Derivations, want)
			}
			checkReadable(t, s)
		})
	}
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes repeatedly")
	}
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	sawOrphanOrStale := false
	for round := range 8 {
		cmd := helper(t, root, "churn", "KILN_STORE_HELPER_SEED=s"+strconv.Itoa(round))
		ch := lines(t, cmd)
		expectLine(t, ch, "iter 1", 60*time.Second)
		// Land the kill anywhere in an iteration: blob write, layer sync,
		// rename, index update or record.
		time.Sleep(time.Duration(rng.IntN(40000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		s, err := Open(root)
		if err != nil {
			t.Fatalf("round %d: reopening after SIGKILL: %v", round, err)
		}
		rep, err := s.Verify(false, rehash)
		if err != nil {
			s.Close()
			t.Fatal(err)
		}
		if !rep.Consistent() {
			s.Close()
			t.Fatalf("round %d: inconsistent after SIGKILL: %v", round, rep.Problems)
		}
		// Open already removed the killed process's temp files.
		if len(rep.Stale) > 0 {
			s.Close()
			t.Fatalf("round %d: stale temp entries survived Open: %v", round, rep.Stale)
		}
		sawOrphanOrStale = sawOrphanOrStale || len(rep.Orphans) > 0
		checkReadable(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("orphans seen in some round: %v", sawOrphanOrStale)

	s := openT(t, root)
	if _, err := s.Verify(true, rehash); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(false, rehash)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Consistent() || len(rep.Orphans)+len(rep.Stale) > 0 {
		t.Fatalf("after repair: %+v", rep)
	}
	if rep.Derivations < 8 {
		t.Errorf("only %d derivations survived 8 rounds of at least 2 iterations", rep.Derivations)
	}
	checkReadable(t, s)
}

// TestBuildLockHolderStopped: a process holding a derivation's build lock
// is stopped (SIGSTOP); another wanting that derivation fails within a
// bound, naming the pid, the derivation and how to resume it, instead of
// waiting forever, and once the holder resumes both finish.
func TestBuildLockHolderStopped(t *testing.T) {
	defer func(d time.Duration) { holderStoppedFor = d }(holderStoppedFor)
	holderStoppedFor = 500 * time.Millisecond
	root := t.TempDir()
	// This process owns the index, so that stopping the holder stops
	// only its build lock, not the store.
	s := openT(t, root)
	if s.ix.owned == nil {
		t.Fatal("this process does not own the index")
	}
	holder := helper(t, root, "hold-build")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	hl := lines(t, holder)
	expectLine(t, hl, "holding", 30*time.Second)
	defer func() {
		holder.Process.Signal(syscall.SIGCONT)
		stdin.Close()
		holder.Wait()
	}()
	if err := holder.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	lockBuild := func() (bool, error) {
		t.Helper()
		type res struct {
			ok  bool
			err error
		}
		ch := make(chan res, 1)
		start := time.Now()
		go func() {
			_, ok, unlock, err := s.LockBuild(context.Background(), drv("x"), nil)
			if err == nil {
				unlock()
			}
			ch <- res{ok, err}
		}()
		select {
		case r := <-ch:
			t.Logf("LockBuild after %s: ok %v, %v", time.Since(start).Round(time.Millisecond), r.ok, r.err)
			return r.ok, r.err
		case <-time.After(20 * time.Second):
			t.Fatal("LockBuild still waiting after 20s")
			return false, nil
		}
	}
	_, err = lockBuild()
	pid := strconv.Itoa(holder.Process.Pid)
	for _, want := range []string{"kiln pid " + pid, drv("x").String(), "resume it (fg, or kill -CONT " + pid + ") or end it"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("waiting on a stopped holder: %v, want an error saying %q", err, want)
		}
	}
	if !errors.Is(err, ErrHolderStopped) {
		t.Errorf("error %v does not match ErrHolderStopped", err)
	}
	if err := holder.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	expectLine(t, hl, "built", 30*time.Second)
	if ok, err := lockBuild(); err != nil || !ok {
		t.Fatalf("after the holder resumed and built x: ok %v, %v; want its output", ok, err)
	}
}
