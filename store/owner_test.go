package store

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestWireRoundTrip(t *testing.T) {
	req := request{Op: 'w', Keys: [][]byte{[]byte("a"), {}}, Prefixes: []byte("ol"),
		Batch:  batch{Need: [][]byte{[]byte("n")}, Set: []entry{{[]byte("k"), []byte("v")}}, Del: [][]byte{[]byte("d")}, Touch: [][]byte{[]byte("t")}, TouchAt: -5, Sync: true},
		Except: "12-abcdef01"}
	got, err := decodeRequest(&dec{b: encodeRequest(req)})
	if err != nil {
		t.Fatal(err)
	}
	got.Keys[1] = []byte{} // an empty string comes back empty, not nil
	if !reflect.DeepEqual(got, req) {
		t.Errorf("request round trip:\n got %+v\nwant %+v", got, req)
	}
	rep := reply{Vals: [][]byte{[]byte("x"), nil}, Found: []bool{true, false}, Entries: []entry{{[]byte("k"), []byte("v")}}, Keys: [][]byte{[]byte("g")}, Err: "boom", Missing: []byte("m")}
	gotRep, err := decodeReply(&dec{b: encodeReply(rep)})
	if err != nil {
		t.Fatal(err)
	}
	if gotRep.Err != rep.Err || string(gotRep.Missing) != "m" || !gotRep.Found[0] || gotRep.Found[1] || string(gotRep.Vals[0]) != "x" || len(gotRep.Entries) != 1 {
		t.Errorf("reply round trip: %+v", gotRep)
	}
	if _, err := decodeReply(&dec{b: []byte{0xff, 0xff, 0xff, 0x7f}}); err == nil {
		t.Error("a malformed reply decoded")
	}
}

// TestOwnerKilled: the owner of the index dies by SIGKILL while another
// process uses the store; that process carries on, owning the index
// itself, and the store stays consistent.
func TestOwnerKilled(t *testing.T) {
	root := t.TempDir()
	holder := helper(t, root, "hold")
	if _, err := holder.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	hl := lines(t, holder)
	expectLine(t, hl, "locked", 30*time.Second)
	s := openT(t, root)
	if s.ix.owned != nil {
		t.Fatal("this process owns the index, want the holder to")
	}
	if err := churnOnce(s, "before"); err != nil {
		t.Fatal(err)
	}
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	if err := churnOnce(s, "after"); err != nil {
		t.Fatalf("after the owner died: %v", err)
	}
	if s.ix.owned == nil {
		t.Error("this process did not take the index over")
	}
	rep, err := s.Verify(false, rehash)
	if err != nil || !rep.Consistent() || rep.Derivations != 2 {
		t.Fatalf("Verify: %v %+v", err, rep)
	}
}

// TestVersionMismatch: a kiln of another store schema owning the index
// makes Open fail, saying so, instead of misreading the index.
func TestVersionMismatch(t *testing.T) {
	root := t.TempDir()
	openT(t, root).Close()
	lock, err := os.OpenFile(filepath.Join(root, "index.lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	name, done, err := sockName(filepath.Join(root, "index.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", name)
	done()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			w := newWire(c)
			if _, err := w.recv(); err == nil {
				w.send(encodeHello(hello{Proto: protocolVersion, Schema: SchemaVersion + 1, PID: 4242}))
			}
			c.Close()
		}
	}()
	_, err = Open(root)
	if !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("Open next to another schema's owner = %v, want ErrVersionMismatch", err)
	}
	for _, want := range []string{"pid 4242", "--store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestOwnerStopped: the owner of the index is stopped (SIGSTOP) while
// other processes use the store; their requests fail within a bound,
// naming the owner's pid and what to do, instead of hanging, and work
// again once it resumes.
func TestOwnerStopped(t *testing.T) {
	defer func(d time.Duration) { ownerStoppedFor = d }(ownerStoppedFor)
	ownerStoppedFor = 500 * time.Millisecond
	root := t.TempDir()
	holder := helper(t, root, "hold")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	hl := lines(t, holder)
	expectLine(t, hl, "locked", 30*time.Second)
	defer func() {
		holder.Process.Signal(syscall.SIGCONT)
		stdin.Close()
		holder.Wait()
	}()
	s := openT(t, root)
	if s.ix.owned != nil {
		t.Fatal("this process owns the index, want the holder to")
	}
	if err := churnOnce(s, "before"); err != nil {
		t.Fatal(err)
	}
	if err := holder.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// kill(2) returns before the holder has stopped; a request sent in
	// between is still answered, so wait until /proc says it is stopped.
	for deadline := time.Now().Add(10 * time.Second); !processStopped(holder.Process.Pid); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the holder did not stop within 10s of SIGSTOP")
		}
	}
	// A connected client and a process that opens the store afterwards.
	within := func(what string, fn func() error) error {
		t.Helper()
		res := make(chan error, 1)
		start := time.Now()
		go func() { res <- fn() }()
		select {
		case err := <-res:
			t.Logf("%s: after %s: %v", what, time.Since(start).Round(time.Millisecond), err)
			return err
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: still waiting for the stopped owner after 20s", what)
			return nil
		}
	}
	want := fmt.Sprintf("kiln pid %d, which serves the store's index to the other kiln processes, has been stopped", holder.Process.Pid)
	for _, c := range []struct {
		what string
		fn   func() error
	}{
		{"a connected client", func() error { _, _, err := s.Lookup(drv("before")); return err }},
		{"the same client again", func() error { _, _, err := s.Lookup(drv("before")); return err }},
		{"a new process", func() error {
			c := helper(t, root, "open")
			var out strings.Builder
			c.Stderr = &out
			if err := c.Start(); err != nil {
				return err
			}
			// Stop it if it hangs, so that the test ends.
			defer c.Process.Kill()
			if err := c.Wait(); err == nil {
				return errors.New("it succeeded")
			}
			return errors.New(out.String())
		}},
	} {
		err := within(c.what, c.fn)
		if err == nil || (!errors.Is(err, ErrOwnerStopped) && c.what != "a new process") || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "kill -CONT") {
			t.Errorf("%s next to a stopped owner: %v, want ErrOwnerStopped saying %q and how to resume it", c.what, err, want)
		}
	}
	if err := holder.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := within("after SIGCONT", func() error { return churnOnce(s, "after") }); err != nil {
		t.Fatalf("after the owner resumed: %v", err)
	}
}

// TestShortLivedLeavesNothingHeld: a short-lived process leaves its
// read-only badger open after Close, to be closed by its exit; until then
// the next owner must still open the index for writing and record.
func TestShortLivedLeavesNothingHeld(t *testing.T) {
	root := t.TempDir()
	s := openT(t, root)
	if err := churnOnce(s, "first"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	prev := helper(t, root, "closed-short")
	stdin, err := prev.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pl := lines(t, prev)
	expectLine(t, pl, "closed", 30*time.Second)
	s = openT(t, root)
	if err := churnOnce(s, "second"); err != nil {
		t.Fatalf("recording while the short-lived process has not exited: %v", err)
	}
	if s.ix.owned == nil || !s.ix.owned.local.rw {
		t.Fatal("want this process to own the index for writing")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := prev.Wait(); err != nil {
		t.Fatalf("the short-lived process: %v", err)
	}
	s = openT(t, root)
	for _, n := range []string{"first", "second"} {
		if _, ok, err := s.Lookup(drv(n)); err != nil || !ok {
			t.Errorf("%s after both closed: %v %v", n, ok, err)
		}
	}
}

// TestReadOnlyOwnerServesWrites: the index owner opened badger read-only
// (a no-op build or kiln plan that came first, or a WithReadOnly user);
// a process that builds next to it records its results at once, and they
// are there for the next user.
func TestReadOnlyOwnerServesWrites(t *testing.T) {
	for _, mode := range []string{"hold", "hold-ro"} {
		t.Run(mode, func(t *testing.T) {
			root := t.TempDir()
			s := openT(t, root)
			if err := churnOnce(s, "first"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			holder := helper(t, root, mode)
			stdin, err := holder.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			hl := lines(t, holder)
			expectLine(t, hl, "locked", 30*time.Second)
			s = openT(t, root)
			if s.ix.owned != nil {
				t.Fatal("this process owns the index, want the holder to")
			}
			start := time.Now()
			if err := churnOnce(s, "second"); err != nil {
				t.Fatalf("recording next to a read-only owner: %v", err)
			}
			took := time.Since(start)
			t.Logf("the first write next to a read-only owner took %s", took)
			if took > 5*time.Second {
				t.Errorf("the first write next to a read-only owner took %s", took)
			}
			if _, ok, err := s.Lookup(drv("second")); err != nil || !ok {
				t.Fatalf("Lookup after recording: %v %v", ok, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			stdin.Close()
			if err := holder.Wait(); err != nil {
				t.Fatalf("the read-only owner: %v", err)
			}
			s = openT(t, root)
			for _, n := range []string{"first", "second"} {
				if _, ok, err := s.Lookup(drv(n)); err != nil || !ok {
					t.Errorf("%s after both closed: %v %v", n, ok, err)
				}
			}
			rep, err := s.Verify(false, rehash)
			if err != nil || !rep.Consistent() {
				t.Fatalf("Verify: %v %+v", err, rep)
			}
		})
	}
}
