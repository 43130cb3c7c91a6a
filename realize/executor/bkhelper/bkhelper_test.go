package bkhelper

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	godigest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/realize/executor"
)

// fake is a Backend that records what reached it.
type fake struct {
	mu       sync.Mutex
	hello    *Hello
	specs    []executor.Spec
	prepare  error
	exec     func(ctx context.Context, spec executor.Spec) (executor.Result, error)
	file     error
	cleaned  atomic.Bool
	warn     func(string)
	llbCalls []*LLBRequest
}

func (f *fake) Prepare(ctx context.Context) error { return f.prepare }

func (f *fake) Exec(ctx context.Context, spec executor.Spec) (executor.Result, error) {
	f.mu.Lock()
	f.specs = append(f.specs, spec)
	f.mu.Unlock()
	return f.exec(ctx, spec)
}

func (f *fake) File(ctx context.Context, spec executor.FileSpec) error { return f.file }

func (f *fake) LLB(ctx context.Context, req *LLBRequest) ([]byte, []Local, error) {
	f.mu.Lock()
	f.llbCalls = append(f.llbCalls, req)
	f.mu.Unlock()
	return []byte("\x00def\xff"), []Local{{Name: "kiln-src-a-0", Dir: "/store/a"}}, nil
}

// connect is a Client talking to Serve over pipes, in this process.
func connect(t *testing.T, f *fake) *Client {
	t.Helper()
	kr, hw := io.Pipe()
	hr, kw := io.Pipe()
	served := make(chan error, 1)
	go func() {
		err := Serve(hr, hw, "/fake/kiln-buildkit", func(h *Hello, warn func(string)) (Backend, error) {
			f.hello, f.warn = h, warn
			return f, nil
		})
		hw.CloseWithError(io.EOF)
		served <- err
	}()
	c := &Client{Path: "/fake/kiln-buildkit", Addrs: []string{"unix:///a.sock", "tcp://b:1"}, TLSDir: "/tls"}
	c.start = func() (io.ReadCloser, io.WriteCloser, func() error, error) {
		return kr, kw, func() error { return <-served }, nil
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recorder is a fallback executor.
type recorder struct {
	prepared, execs atomic.Int32
}

func (r *recorder) Prepare(context.Context) error { r.prepared.Add(1); return nil }
func (r *recorder) Exec(ctx context.Context, spec executor.Spec) (executor.Result, error) {
	r.execs.Add(1)
	spec.Stdout.Write([]byte("local\n"))
	return executor.Result{ExitCode: 7}, nil
}

// TestRoundTrip: a step's spec reaches the helper whole, its output
// comes back on its own writers while other steps run, and its result
// and errors come back as the helper's backend gave them; the hello
// carries the daemons; warnings reach Warn.
func TestRoundTrip(t *testing.T) {
	f := &fake{}
	f.exec = func(ctx context.Context, spec executor.Spec) (executor.Result, error) {
		if spec.Args[0] == "fail" {
			return executor.Result{ExitCode: 0, TimedOut: true}, errors.New("time limit of 1s hit")
		}
		io.WriteString(spec.Stdout, "out of "+spec.ID+"\n")
		io.WriteString(spec.Stderr, "err of "+spec.ID+"\n")
		f.warn("warned by " + spec.ID)
		return executor.Result{ExitCode: 3, Duration: time.Second, OOMKilled: true}, nil
	}
	c := connect(t, f)
	var warnMu sync.Mutex
	var warnings []string
	c.Warn = func(m string) { warnMu.Lock(); warnings = append(warnings, m); warnMu.Unlock() }
	if err := c.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.hello.Addrs, c.Addrs) || f.hello.TLSDir != "/tls" || f.hello.Fallback || f.hello.Proto != Proto {
		t.Errorf("the helper's hello: %+v", f.hello)
	}

	const n = 8
	var wg sync.WaitGroup
	outs := make([]*bytes.Buffer, n)
	errs := make([]*bytes.Buffer, n)
	for i := range n {
		outs[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := executor.Spec{
				ID: "s" + string(rune('a'+i)), Root: []executor.Layer{{Digest: "sha256:ab", Path: "/l/ab"}},
				Upper: "/u", Scratch: "/s", Args: []string{"sh", "-c", "x"}, Env: []string{"A=1", "S=x"}, SecretEnv: []string{"S=x"},
				Cwd: "/w", User: "1:2", Hostname: "h", HostNetwork: true, Insecure: true,
				Mounts:      []executor.Mount{{Type: executor.MountCache, Dest: "/c", CacheID: "id", Sharing: "locked", Source: "/src", SizeBytes: 9}},
				MemoryBytes: 5, Pids: 6, Timeout: 7 * time.Second,
				Stdout: outs[i], Stderr: errs[i],
			}
			res, err := c.Exec(context.Background(), spec)
			if err != nil || res.ExitCode != 3 || res.Duration != time.Second || !res.OOMKilled {
				t.Errorf("step %d: %+v, %v", i, res, err)
			}
		}()
	}
	wg.Wait()
	for i := range n {
		id := "s" + string(rune('a'+i))
		if outs[i].String() != "out of "+id+"\n" || errs[i].String() != "err of "+id+"\n" {
			t.Errorf("step %s's output: %q %q", id, outs[i], errs[i])
		}
	}
	got := f.specs[0]
	got.Stdout, got.Stderr = nil, nil
	want := executor.Spec{
		ID: got.ID, Root: []executor.Layer{{Digest: "sha256:ab", Path: "/l/ab"}},
		Upper: "/u", Scratch: "/s", Args: []string{"sh", "-c", "x"}, Env: []string{"A=1", "S=x"}, SecretEnv: []string{"S=x"},
		Cwd: "/w", User: "1:2", Hostname: "h", HostNetwork: true, Insecure: true,
		Mounts:      []executor.Mount{{Type: executor.MountCache, Dest: "/c", CacheID: "id", Sharing: "locked", Source: "/src", SizeBytes: 9}},
		MemoryBytes: 5, Pids: 6, Timeout: 7 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the helper got\n%+v\nwant\n%+v", got, want)
	}
	warnMu.Lock()
	if len(warnings) != n || !strings.HasPrefix(warnings[0], "warned by s") {
		t.Errorf("warnings: %q", warnings)
	}
	warnMu.Unlock()

	res, err := c.Exec(context.Background(), executor.Spec{Args: []string{"fail"}})
	if err == nil || err.Error() != "time limit of 1s hit" || !res.TimedOut {
		t.Errorf("a failing step: %+v, %v", res, err)
	}

	f.file = executor.ErrRunLocally
	if err := c.File(context.Background(), executor.FileSpec{ID: "f"}); !errors.Is(err, executor.ErrRunLocally) {
		t.Errorf("a declined file step gave %v, want ErrRunLocally", err)
	}
	f.file = errors.New("buildkitd at x: gone")
	if err := c.File(context.Background(), executor.FileSpec{ID: "f"}); err == nil || err.Error() != "buildkitd at x: gone" {
		t.Errorf("a failed file step gave %v", err)
	}

	def, locals, err := c.LLB(context.Background(), &LLBRequest{Root: "sha256:r", Platform: "linux/arm64", Nodes: map[godigest.Digest]Node{"sha256:r": {Name: "stage.x", Derivation: []byte(`{"kind":"merge"}`)}}})
	if err != nil || string(def) != "\x00def\xff" || len(locals) != 1 || locals[0].Dir != "/store/a" {
		t.Errorf("llb: %q %v %v", def, locals, err)
	}
	if r := f.llbCalls[0]; r.Platform != "linux/arm64" || r.Nodes["sha256:r"].Name != "stage.x" || string(r.Nodes["sha256:r"].Derivation) != `{"kind":"merge"}` {
		t.Errorf("the helper's llb request: %+v", r)
	}
}

// TestFallbackRunsInKiln: when the helper's pool has no daemon left, the
// step comes back and runs on kiln's fallback, prepared once.
func TestFallbackRunsInKiln(t *testing.T) {
	f := &fake{prepare: ErrFallback}
	f.exec = func(context.Context, executor.Spec) (executor.Result, error) { return executor.Result{}, ErrFallback }
	c := connect(t, f)
	fb := &recorder{}
	c.Fallback = fb
	if err := c.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !f.hello.Fallback {
		t.Error("the hello does not say there is a fallback")
	}
	var out bytes.Buffer
	for range 2 {
		res, err := c.Exec(context.Background(), executor.Spec{ID: "x", Stdout: &out})
		if err != nil || res.ExitCode != 7 {
			t.Fatalf("fallback exec: %+v, %v", res, err)
		}
	}
	if fb.prepared.Load() != 1 || fb.execs.Load() != 2 || out.String() != "local\nlocal\n" {
		t.Errorf("fallback prepared %d times, ran %d steps, wrote %q", fb.prepared.Load(), fb.execs.Load(), out.String())
	}
}

// TestCancelWaitsForCleanUp: a step whose context ends is cancelled in
// the helper, and Exec returns only once the helper's side has returned
// (unmounted what it mounted).
func TestCancelWaitsForCleanUp(t *testing.T) {
	f := &fake{}
	started := make(chan struct{})
	f.exec = func(ctx context.Context, spec executor.Spec) (executor.Result, error) {
		close(started)
		<-ctx.Done()
		time.Sleep(100 * time.Millisecond)
		f.cleaned.Store(true)
		return executor.Result{}, ctx.Err()
	}
	c := connect(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := c.Exec(ctx, executor.Spec{ID: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled step gave %v", err)
	}
	if !f.cleaned.Load() {
		t.Error("Exec returned before the helper's step did")
	}
}

// TestCloseEndsRunningSteps: closing the client closes the helper's
// stdin; Serve cancels what runs, waits for it and returns.
func TestCloseEndsRunningSteps(t *testing.T) {
	f := &fake{}
	started := make(chan struct{})
	f.exec = func(ctx context.Context, spec executor.Spec) (executor.Result, error) {
		close(started)
		<-ctx.Done()
		f.cleaned.Store(true)
		return executor.Result{}, ctx.Err()
	}
	c := connect(t, f)
	done := make(chan error, 1)
	go func() { _, err := c.Exec(context.Background(), executor.Spec{ID: "x"}); done <- err }()
	<-started
	c.Close()
	if !f.cleaned.Load() {
		t.Error("Close returned before the helper's steps ended")
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "closed kiln-buildkit's input") {
		t.Errorf("a step running when the helper ended gave %v", err)
	}
}

// TestHelperDies: a helper that exits mid-step fails the step with a
// message naming it, and every later request.
func TestHelperDies(t *testing.T) {
	kr, hw := io.Pipe()
	hr, kw := io.Pipe()
	go func() {
		c := newConn(hr, hw)
		c.recv()
		c.send(&Msg{Kind: KindHello, Hello: &Hello{Proto: Proto}})
		c.recv() // the exec
		hw.Close()
	}()
	c := &Client{Path: "/bin/kiln-buildkit"}
	c.start = func() (io.ReadCloser, io.WriteCloser, func() error, error) {
		return kr, kw, func() error { return errors.New("signal: killed") }, nil
	}
	_, err := c.Exec(context.Background(), executor.Spec{ID: "x"})
	if err == nil || !strings.Contains(err.Error(), "/bin/kiln-buildkit stopped") || !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("a dead helper gave %v", err)
	}
	if err := c.File(context.Background(), executor.FileSpec{}); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("a request after the helper died gave %v", err)
	}
}

// TestVersionMismatch: a helper of another protocol or another build is
// refused, naming both programs and both versions.
func TestVersionMismatch(t *testing.T) {
	kiln := &Hello{Proto: Proto, Build: "example.com/kiln@(devel) aaa", Path: "/bin/kiln"}
	for _, helper := range []*Hello{
		{Proto: Proto + 1, Build: kiln.Build, Path: "/bin/kiln-buildkit"},
		{Proto: Proto, Build: "example.com/kiln@(devel) bbb", Path: "/bin/kiln-buildkit"},
	} {
		err := checkHello(kiln, helper)
		if err == nil {
			t.Fatalf("%+v accepted", helper)
		}
		for _, s := range []string{"/bin/kiln-buildkit", "/bin/kiln", helper.Build, kiln.Build, "go build -o DIR ./cmd/kiln-buildkit"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%v does not name %q", err, s)
			}
		}
	}
	// An unstamped side (a test binary) is checked by protocol alone.
	if err := checkHello(kiln, &Hello{Proto: Proto}); err != nil {
		t.Error(err)
	}
	// Over the wire: the helper refuses the hello, and says so to kiln.
	kr, hw := io.Pipe()
	hr, kw := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- Serve(hr, hw, "/bin/kiln-buildkit", func(*Hello, func(string)) (Backend, error) { return &fake{}, nil })
		hw.Close()
	}()
	c := newConn(kr, kw)
	c.send(&Msg{Kind: KindHello, Hello: &Hello{Proto: Proto + 1, Path: "/bin/kiln"}})
	m, err := c.recv()
	if err != nil || m.Err == "" || !strings.Contains(m.Err, "/bin/kiln-buildkit") {
		t.Errorf("the helper's answer to another protocol: %+v, %v", m, err)
	}
	if err := <-served; err == nil {
		t.Error("Serve went on after a mismatched hello")
	}
}

// TestLocate: KILN_BUILDKIT_HELPER first, then next to kiln, then PATH;
// none of them is an error that says how to build the helper.
func TestLocate(t *testing.T) {
	dir := t.TempDir()
	kiln := filepath.Join(dir, "kiln")
	helper := filepath.Join(dir, Name)
	other := filepath.Join(t.TempDir(), "h")
	for _, p := range []string{kiln, helper, other} {
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	noPath := func(string) (string, error) { return "", errors.New("not found") }
	onPath := func(string) (string, error) { return "/usr/bin/" + Name, nil }
	if p, err := locate([]string{EnvHelper + "=" + other}, kiln, noPath); err != nil || p != other {
		t.Errorf("with %s: %q, %v", EnvHelper, p, err)
	}
	if p, err := locate(nil, kiln, onPath); err != nil || p != helper {
		t.Errorf("next to kiln: %q, %v", p, err)
	}
	if p, err := locate([]string{EnvHelper + "="}, filepath.Join(t.TempDir(), "kiln"), onPath); err != nil || p != "/usr/bin/"+Name {
		t.Errorf("on PATH: %q, %v", p, err)
	}
	_, err := locate(nil, filepath.Join(other+"-dir", "kiln"), noPath)
	var me *MissingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "go build -o DIR ./cmd/kiln-buildkit") || !strings.Contains(err.Error(), "go install ./cmd/...") {
		t.Errorf("no helper: %v", err)
	}
	_, err = locate([]string{EnvHelper + "=" + filepath.Join(dir, "none")}, kiln, onPath)
	if !errors.As(err, &me) || !strings.Contains(err.Error(), EnvHelper+"="+filepath.Join(dir, "none")) {
		t.Errorf("%s naming nothing: %v", EnvHelper, err)
	}
}
