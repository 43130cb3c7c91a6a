package buildkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/internal/testutil/buildkitd"
	"github.com/kiln-build/kiln/realize/executor"
)

// spec is a step on a busybox root, with its own Upper and Scratch.
func spec(t *testing.T, root string, script string) executor.Spec {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"upper", "scratch"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return executor.Spec{
		ID:      "test-" + filepath.Base(dir),
		Root:    []executor.Layer{{Path: root}},
		Upper:   filepath.Join(dir, "upper"),
		Scratch: filepath.Join(dir, "scratch"),
		Args:    []string{"/bin/sh", "-c", script},
		Env:     []string{"PATH=/bin"},
	}
}

// TestStepRunsOnBuildKit: the step sees its env, cwd, secrets (as a file
// and as a variable) and an input mount; its changes come back in overlay
// form, deletions as whiteouts; its output reaches the log writers; the
// definition sent to the daemon holds no secret.
func TestStepRunsOnBuildKit(t *testing.T) {
	d := buildkitd.Start(t)
	root := testutil.BusyboxRootfs(t)
	in := t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "data"), []byte("input"), 0o644); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(secretFile, []byte("file-s3cr3t"), 0o400); err != nil {
		t.Fatal(err)
	}
	s := spec(t, root, `echo "$A $TOK" > /new; pwd > /cwd; cat /run/s > /from-secret; cat /in/data > /from-input; rm /etc/group; echo to-out; echo to-err >&2`)
	s.Env = append(s.Env, "A=1", "TOK=env-s3cr3t")
	s.SecretEnv = []string{"TOK=env-s3cr3t"}
	s.Cwd = "/work"
	s.Mounts = []executor.Mount{
		{Type: executor.MountSecret, Dest: "/run/s", Source: secretFile},
		{Type: executor.MountLayers, Dest: "/in", Layers: []executor.Layer{{Path: in}}, ReadOnly: true},
		{Type: executor.MountTmpfs, Dest: "/tmp"},
	}
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut

	def, err := Translate(s)
	if err != nil {
		t.Fatal(err)
	}
	m, err := def.State.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	def.Close()
	for _, b := range m.Def {
		if bytes.Contains(b, []byte("s3cr3t")) {
			t.Fatalf("a secret's value is in the LLB definition: %q", b)
		}
	}

	e := &Executor{Addr: d.Addr}
	if err := e.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := e.Exec(context.Background(), s)
	if err != nil {
		t.Fatalf("%v\ndaemon log:\n%s", err, d.Log())
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d; output %q %q", res.ExitCode, out.String(), errOut.String())
	}
	want := map[string]string{"new": "1 env-s3cr3t\n", "cwd": "/work\n", "from-secret": "file-s3cr3t", "from-input": "input"}
	for name, body := range want {
		b, err := os.ReadFile(filepath.Join(s.Upper, name))
		if err != nil || string(b) != body {
			t.Errorf("upper/%s = %q, %v; want %q", name, b, err, body)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(s.Upper, "etc", "group"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("the deleted /etc/group is not a 0/0 whiteout in upper: %v, mode %o", err, st.Mode)
	}
	if !strings.Contains(out.String()+errOut.String(), "to-out") || !strings.Contains(out.String()+errOut.String(), "to-err") {
		t.Errorf("step output not passed on: %q %q", out.String(), errOut.String())
	}

	// A cache mount persists between steps, in the daemon.
	id := filepath.Base(t.TempDir())
	for i, script := range []string{"echo kept > /c/x", "cat /c/x > /got"} {
		sc := spec(t, root, script)
		sc.Mounts = []executor.Mount{{Type: executor.MountCache, Dest: "/c", CacheID: id, Sharing: "locked", Source: t.TempDir()}}
		if res, err := e.Exec(context.Background(), sc); err != nil || res.ExitCode != 0 {
			t.Fatalf("cache step %d: %+v, %v", i, res, err)
		}
		if i == 1 {
			if b, err := os.ReadFile(filepath.Join(sc.Upper, "got")); err != nil || string(b) != "kept\n" {
				t.Errorf("the second step read %q, %v from the cache; want the first's file", b, err)
			}
			if _, err := os.Lstat(filepath.Join(sc.Upper, "c", "x")); err == nil {
				t.Errorf("the cache's contents ended up in the step's layer")
			}
		}
	}

	s2 := spec(t, root, "exit 3")
	res, err = e.Exec(context.Background(), s2)
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("exit 3 gave %+v, %v", res, err)
	}
}

// TestPoolSurvivesADaemonKilled: with two daemons, steps are spread over
// both; killing one while its steps run sends them to the other, and
// every step finishes with its changes.
func TestPoolSurvivesADaemonKilled(t *testing.T) {
	a, b := buildkitd.Start(t), buildkitd.Start(t)
	root := testutil.BusyboxRootfs(t)
	var mu sync.Mutex
	var warnings []string
	p := NewPool([]string{a.Addr, b.Addr}, "", nil, func(m string) { mu.Lock(); warnings = append(warnings, m); mu.Unlock() })
	if err := p.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 4
	specs := make([]executor.Spec, n)
	for i := range specs {
		specs[i] = spec(t, root, fmt.Sprintf("sleep 3; echo %d > /f", i))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Exec(context.Background(), specs[i])
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d", res.ExitCode)
			}
			errs[i] = err
		}()
	}
	// Until every step has reached a daemon, then a little into the runs.
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		busy := p.running[0] + p.running[1]
		onA := p.running[0]
		p.mu.Unlock()
		if busy == n {
			if onA != n/2 {
				t.Errorf("%d of %d steps went to the first daemon, want %d", onA, n, n/2)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the steps did not all start within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	a.Kill()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("step %d: %v", i, err)
			continue
		}
		got, err := os.ReadFile(filepath.Join(specs[i].Upper, "f"))
		if want := fmt.Sprintf("%d\n", i); err != nil || string(got) != want {
			t.Errorf("step %d left f = %q, %v; want %q", i, got, err, want)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], a.Addr) || !strings.Contains(warnings[0], "run again elsewhere") {
		t.Errorf("want one warning naming the killed daemon, got %q", warnings)
	}
}

// TestAStepErrorIsNotADaemonError: a step the daemon cannot start (its
// user does not exist) fails as the step's error, and the pool does not
// give up on the daemon for it.
func TestAStepErrorIsNotADaemonError(t *testing.T) {
	d := buildkitd.Start(t)
	root := testutil.BusyboxRootfs(t)
	var warnings []string
	p := NewPool([]string{d.Addr}, "", nil, func(m string) { warnings = append(warnings, m) })
	s := spec(t, root, "true")
	s.User = "nosuchuser"
	_, err := p.Exec(context.Background(), s)
	var de *DaemonError
	if err == nil || errors.As(err, &de) || !strings.Contains(err.Error(), "nosuchuser") {
		t.Fatalf("err = %v, want the step's failure naming the user", err)
	}
	if len(warnings) != 0 || p.dead[0] {
		t.Fatalf("the daemon was given up on for a step's error: %q", warnings)
	}
	if res, err := p.Exec(context.Background(), spec(t, root, "true")); err != nil || res.ExitCode != 0 {
		t.Fatalf("the next step: %+v, %v", res, err)
	}
}

// TestNetwork: a step has only loopback; a step with HostNetwork (a
// fixed-output step) sees the host's interfaces.
func TestNetwork(t *testing.T) {
	d := buildkitd.Start(t)
	root := testutil.BusyboxRootfs(t)
	e := &Executor{Addr: d.Addr}
	ifaces := func(host bool) string {
		s := spec(t, root, "ls /sys/class/net > /nets")
		s.HostNetwork = host
		if res, err := e.Exec(context.Background(), s); err != nil || res.ExitCode != 0 {
			t.Fatalf("host=%v: %+v, %v", host, res, err)
		}
		b, err := os.ReadFile(filepath.Join(s.Upper, "nets"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if got := ifaces(false); got != "lo" {
		t.Errorf("a step sees interfaces %q, want only lo", got)
	}
	if got := ifaces(true); got == "lo" {
		t.Errorf("a host-network step sees only lo")
	}
}

// TestEntitlementRefused: a daemon that does not allow host networking
// fails a fixed-output step with what to do about it.
func TestEntitlementRefused(t *testing.T) {
	d := buildkitd.Start(t, "--no-entitlements")
	s := spec(t, testutil.BusyboxRootfs(t), "true")
	s.HostNetwork = true
	_, err := (&Executor{Addr: d.Addr}).Exec(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "--allow-insecure-entitlement network.host") {
		t.Fatalf("err = %v, want the daemon flag to add", err)
	}
}

// freePort is a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestPoolSurvivesADaemonThatVanishes: a tcp:// daemon that stops
// answering mid-step without closing its connection (frozen, as a machine
// cut off from the network) is found out by the probes, and its step runs
// again on the other daemon.
func TestPoolSurvivesADaemonThatVanishes(t *testing.T) {
	defer func(e, to time.Duration) { probeEvery, probeTimeout = e, to }(probeEvery, probeTimeout)
	probeEvery, probeTimeout = 300*time.Millisecond, time.Second
	tcp := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	a := buildkitd.Start(t, "--addr", tcp)
	b := buildkitd.Start(t)
	root := testutil.BusyboxRootfs(t)
	var mu sync.Mutex
	var warnings []string
	p := NewPool([]string{tcp, b.Addr}, "", nil, func(m string) { mu.Lock(); warnings = append(warnings, m); mu.Unlock() })
	if err := p.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := spec(t, root, "sleep 2; echo done > /f")
	done := make(chan error, 1)
	go func() {
		res, err := p.Exec(context.Background(), s)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("exit %d", res.ExitCode)
		}
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for a.Running() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the step did not start on the tcp daemon within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.Freeze()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the step did not finish within 60s of its daemon vanishing")
	}
	if got, err := os.ReadFile(filepath.Join(s.Upper, "f")); err != nil || string(got) != "done\n" {
		t.Errorf("f = %q, %v", got, err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], tcp) || !strings.Contains(warnings[0], "stopped answering") {
		t.Errorf("want one warning naming the vanished daemon, got %q", warnings)
	}
}
