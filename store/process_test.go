package store

import (
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
		return s.Close()
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

func TestLockWaitsForOtherProcess(t *testing.T) {
	root := t.TempDir()
	holder := helper(t, root, "hold")
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
		t.Fatalf("waiter printed %q while the holder still holds the store", l)
	case <-time.After(200 * time.Millisecond):
	}
	stdin.Close() // the holder closes the store and exits
	if err := holder.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	expectLine(t, wl, "opened", 30*time.Second)
	if err := waiter.Wait(); err != nil {
		t.Fatalf("waiter: %v", err)
	}
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
