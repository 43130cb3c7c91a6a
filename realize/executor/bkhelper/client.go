package bkhelper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-build/kiln/internal/companion"
	"github.com/kiln-build/kiln/realize/executor"
)

// Name is the helper's file name, and EnvHelper the variable that names
// its path instead (tests set it).
const (
	Name      = "kiln-buildkit"
	EnvHelper = "KILN_BUILDKIT_HELPER"
)

// MissingError is a kiln without its helper: a set-up problem, not the
// build's.
type MissingError struct{ Msg string }

func (e *MissingError) Error() string { return e.Msg }

// Locate finds kiln-buildkit: the file $KILN_BUILDKIT_HELPER names (in
// environ), else next to kiln's own executable, else on PATH. The
// first is for tests and unusual installs; the second is how both
// binaries ship (a release's directory, go install's bin).
func Locate(environ []string) (string, error) {
	self, _ := os.Executable()
	return locate(environ, self, exec.LookPath)
}

func locate(environ []string, self string, lookPath func(string) (string, error)) (string, error) {
	const how = "build it from the same kiln checkout next to kiln with `go build -o DIR ./cmd/kiln-buildkit` (DIR: kiln's directory), or install both with `go install ./cmd/...`"
	p, err := companion.Locate(environ, EnvHelper, Name, self, lookPath)
	var nf *companion.NotFoundError
	switch {
	case err == nil:
		return p, nil
	case errors.As(err, &nf):
		return "", &MissingError{fmt.Sprintf("%s, the helper that runs steps on buildkitd (--buildkit, KILN_BUILDKIT_HOST) and writes `kiln llb`'s definitions, is not installed: it is not %s; %s", Name, nf.Where(), how)}
	default:
		return "", &MissingError{fmt.Sprintf("%v: kiln runs BuildKit steps and `kiln llb` through that helper; %s", err, how)}
	}
}

// Client runs a build's BuildKit steps through one kiln-buildkit process,
// started at the first request. It is an executor.Executor and an
// executor.FileRunner, as the helper's pool is.
type Client struct {
	// Path is the helper's executable (Locate).
	Path string
	// Addrs are the daemons; TLSDir holds their TLS files ("": none).
	Addrs  []string
	TLSDir string
	// Fallback runs steps once no daemon is left (nil: the step fails).
	Fallback executor.Executor
	// Warn receives the pool's warnings.
	Warn func(string)

	// start opens the conversation: a process by default, pipes to an
	// in-process Serve in tests.
	start func() (r io.ReadCloser, w io.WriteCloser, wait func() error, err error)

	startOnce sync.Once
	startErr  error
	c         *conn
	stdin     io.WriteCloser
	wait      func() error
	exited    chan struct{}
	exitErr   error
	reapO     sync.Once
	proc      *os.Process

	mu    sync.Mutex
	next  uint64
	calls map[uint64]chan *Msg
	outs  map[uint64][2]io.Writer
	dead  error

	fbOnce sync.Once
	fbErr  error
}

func (c *Client) startProcess() (io.ReadCloser, io.WriteCloser, func() error, error) {
	cmd := exec.Command(c.Path)
	// Its own process group: a Ctrl-C at the terminal is kiln's to
	// handle (it cancels the steps, and the helper unmounts what it
	// mounted), not a signal that kills the helper mid-step.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("starting %s: %w", c.Path, err)
	}
	c.proc = cmd.Process
	return stdout, stdin, cmd.Wait, nil
}

// open starts the helper and exchanges hellos, once.
func (c *Client) open(ctx context.Context) error {
	c.startOnce.Do(func() { c.startErr = c.open1(ctx) })
	return c.startErr
}

func (c *Client) open1(ctx context.Context) error {
	start := c.start
	if start == nil {
		start = c.startProcess
	}
	r, w, wait, err := start()
	if err != nil {
		return err
	}
	c.c, c.stdin, c.wait = newConn(r, w), w, wait
	c.exited = make(chan struct{})
	c.calls = map[uint64]chan *Msg{}
	c.outs = map[uint64][2]io.Writer{}
	self, _ := os.Executable()
	mine := &Hello{Proto: Proto, Build: BuildID(), Path: self, Addrs: c.Addrs, TLSDir: c.TLSDir, Fallback: c.Fallback != nil}
	fail := func(err error) error {
		// Nothing runs yet, so nothing is mounted: a helper that
		// failed its hello is not waited for.
		w.Close()
		if c.proc != nil {
			c.proc.Kill()
		}
		c.reapOnce()
		return err
	}
	if err := c.c.send(&Msg{Kind: KindHello, Hello: mine}); err != nil {
		return fail(fmt.Errorf("%s: %w", c.Path, c.exitOr(err)))
	}
	type answer struct {
		m   *Msg
		err error
	}
	got := make(chan answer, 1)
	go func() { m, err := c.c.recv(); got <- answer{m, err} }()
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if a.err != nil {
		return fail(fmt.Errorf("%s did not answer kiln's hello: %w", c.Path, c.exitOr(a.err)))
	}
	if a.m.Kind != KindHello || a.m.Hello == nil {
		return fail(fmt.Errorf("%s answered kiln's hello with %q: it is not kiln's helper, or not this kiln's", c.Path, a.m.Kind))
	}
	if a.m.Hello.Path == "" {
		a.m.Hello.Path = c.Path
	}
	if err := checkHello(mine, a.m.Hello); err != nil {
		return fail(err)
	}
	if a.m.Err != "" {
		return fail(errors.New(a.m.Err))
	}
	go c.read()
	return nil
}

// reap waits for the helper to exit, once.
func (c *Client) reap() {
	if c.wait != nil {
		c.exitErr = c.wait()
	}
	close(c.exited)
}

// exitOr says how the helper ended when a read or write met its end.
func (c *Client) exitOr(err error) error {
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, os.ErrClosed) {
		return err
	}
	if c.wait == nil {
		return err
	}
	select {
	case <-c.exited:
	default:
		go c.reapOnce()
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			return err
		}
	}
	if c.exitErr != nil {
		return fmt.Errorf("it exited: %v", c.exitErr)
	}
	return errors.New("it exited")
}

func (c *Client) reapOnce() { c.reapO.Do(c.reap) }

// read delivers the helper's messages until its stdout ends.
func (c *Client) read() {
	for {
		m, err := c.c.recv()
		if err != nil {
			c.mu.Lock()
			c.dead = fmt.Errorf("%s stopped (%v): the BuildKit steps of this build cannot go on", c.Path, c.exitOr(err))
			calls := c.calls
			c.calls, c.outs = map[uint64]chan *Msg{}, map[uint64][2]io.Writer{}
			dead := c.dead
			c.mu.Unlock()
			for _, ch := range calls {
				ch <- &Msg{Kind: KindDone, Err: dead.Error()}
			}
			return
		}
		switch m.Kind {
		case KindWarn:
			if c.Warn != nil {
				c.Warn(m.Text)
			}
		case KindStdout, KindStderr:
			c.mu.Lock()
			ws := c.outs[m.ID]
			c.mu.Unlock()
			w := ws[0]
			if m.Kind == KindStderr {
				w = ws[1]
			}
			if w != nil {
				w.Write(m.Data)
			}
		case KindDone:
			c.mu.Lock()
			ch := c.calls[m.ID]
			delete(c.calls, m.ID)
			delete(c.outs, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}
}

// call sends a request and waits for its answer. When ctx ends first,
// the helper is told to cancel the request and call still waits for the
// answer: the helper sends it once the request has cleaned up.
func (c *Client) call(ctx context.Context, m *Msg, stdout, stderr io.Writer) (*Msg, error) {
	if err := c.open(ctx); err != nil {
		return nil, err
	}
	ch := make(chan *Msg, 1)
	c.mu.Lock()
	if c.dead != nil {
		c.mu.Unlock()
		return nil, c.dead
	}
	c.next++
	m.ID = c.next
	c.calls[m.ID] = ch
	c.outs[m.ID] = [2]io.Writer{stdout, stderr}
	c.mu.Unlock()
	if err := c.c.send(m); err != nil {
		// read() answers every call when the helper's output ends.
		return <-ch, nil
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		c.c.send(&Msg{Kind: KindCancel, ID: m.ID})
		return <-ch, nil
	}
}

func (c *Client) prepareFallback(ctx context.Context) error {
	if c.Fallback == nil {
		return errors.New("kiln-buildkit handed a step back to kiln, which has no local fallback")
	}
	c.fbOnce.Do(func() { c.fbErr = c.Fallback.Prepare(ctx) })
	return c.fbErr
}

// Prepare starts the helper, which checks the daemons.
func (c *Client) Prepare(ctx context.Context) error {
	r, err := c.call(ctx, &Msg{Kind: KindPrepare}, nil, nil)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.Err != "" {
		return errors.New(r.Err)
	}
	if r.Fallback {
		return c.prepareFallback(ctx)
	}
	return nil
}

// Exec runs spec through the helper, or on the fallback when the helper
// has no daemon left for it.
func (c *Client) Exec(ctx context.Context, spec executor.Spec) (executor.Result, error) {
	s := spec
	s.Stdout, s.Stderr = nil, nil
	r, err := c.call(ctx, &Msg{Kind: KindExec, Spec: &s}, spec.Stdout, spec.Stderr)
	if err != nil {
		return executor.Result{}, err
	}
	var res executor.Result
	if r.Res != nil {
		res = *r.Res
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if r.Fallback {
		if err := c.prepareFallback(ctx); err != nil {
			return executor.Result{}, err
		}
		return c.Fallback.Exec(ctx, spec)
	}
	if r.Err != "" {
		return res, errors.New(r.Err)
	}
	return res, nil
}

// File runs a file step through the helper.
func (c *Client) File(ctx context.Context, spec executor.FileSpec) error {
	r, err := c.call(ctx, &Msg{Kind: KindFile, File: &spec}, nil, nil)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.RunLocally {
		return executor.ErrRunLocally
	}
	if r.Err != "" {
		return errors.New(r.Err)
	}
	return nil
}

// LLB has the helper translate req into an LLB definition, as `buildctl
// build` reads it, and the local sources it names.
func (c *Client) LLB(ctx context.Context, req *LLBRequest) ([]byte, []Local, error) {
	r, err := c.call(ctx, &Msg{Kind: KindLLB, LLB: req}, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if r.Err != "" {
		return nil, nil, errors.New(r.Err)
	}
	return r.Data, r.Locals, nil
}

// Close ends the helper: its stdin closes, it cancels what still runs,
// cleans up and exits. A helper that has not exited after a minute is
// killed.
func (c *Client) Close() error {
	if c.stdin == nil {
		return nil
	}
	c.stdin.Close()
	go c.reapOnce()
	select {
	case <-c.exited:
	case <-time.After(time.Minute):
		if c.proc != nil {
			c.proc.Kill()
			<-c.exited
		}
	}
	return nil
}
