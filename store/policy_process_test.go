package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// TestAutoGCHelperProcess is not a test: it is the body of the child
// that TestAutoGCKilled kills, selected by KILN_AUTOGC_HELPER (a store
// root): it collects everything it can under a budget of one byte.
func TestAutoGCHelperProcess(t *testing.T) {
	root := os.Getenv("KILN_AUTOGC_HELPER")
	if root == "" {
		t.Skip("helper process only")
	}
	s, err := Open(root)
	if err == nil {
		var p Pressure
		if p, err = s.CheckBudget(budget(1), true); err == nil {
			fmt.Println("collecting")
			_, err = s.AutoGC(budget(1), p, false)
		}
		s.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// fillUnrooted records n outputs of one small layer each, none rooted, in
// the store at root, and a rooted one; it returns the rooted layer.
func fillUnrooted(t *testing.T, root string, n int) digest.Digest {
	t.Helper()
	s := openT(t, root)
	for i := range n {
		l := addLayer(t, s, map[string]string{"f": fmt.Sprint("object ", i)})
		if err := s.Record(drv(fmt.Sprint("unrooted", i)), Output{Layers: []digest.Digest{l}}); err != nil {
			t.Fatal(err)
		}
	}
	kept := addLayer(t, s, map[string]string{"kept": "kept"})
	if err := s.Record(drv("kept"), Output{Layers: []digest.Digest{kept}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoot("target", drv("kept")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return kept
}

// TestAutoGCKilled kills an automatic collection (kill -9) at random
// moments while it removes hundreds of objects: the store verifies clean
// every time, the rooted output survives, and a collection afterwards
// finishes the job without leaving orphans.
func TestAutoGCKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("adds hundreds of objects; skipped with -short")
	}
	root := t.TempDir()
	kept := fillUnrooted(t, root, 400)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 21))
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAutoGCHelperProcess$")
		cmd.Env = append(os.Environ(), "KILN_AUTOGC_HELPER="+root)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "collecting") {
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		s := openT(t, root)
		rep, err := s.Verify(false, rehash)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Consistent() {
			t.Fatalf("round %d: store inconsistent after a killed collection: %+v", round, rep.Problems)
		}
		if ok, _ := s.HasLayer(kept); !ok {
			t.Fatalf("round %d: the rooted layer was collected", round)
		}
		left, _ := s.List(KindLayer)
		t.Logf("round %d: %d layers left, %d orphans", round, len(left), len(rep.Orphans))
		s.Close()
	}
	s := openT(t, root)
	p, err := s.CheckBudget(budget(1), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AutoGC(budget(1), p, false); err != nil {
		t.Fatal(err)
	}
	left, _ := s.List(KindLayer)
	if len(left) != 1 || left[0].Digest != kept {
		t.Errorf("after a full collection %d layers are left, want only the rooted one", len(left))
	}
	checkConsistent(t, s)
}
