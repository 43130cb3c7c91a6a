package bkhelper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/kiln-build/kiln/realize/executor"
)

// Backend is what the helper serves: a pool of buildkitd daemons and the
// translation of `kiln llb`.
type Backend interface {
	// Prepare and Exec are executor.Executor's; they return ErrFallback
	// when no daemon is left and kiln's local fallback is to take over.
	Prepare(ctx context.Context) error
	Exec(ctx context.Context, spec executor.Spec) (executor.Result, error)
	// File is executor.FileRunner's.
	File(ctx context.Context, spec executor.FileSpec) error
	// LLB returns the definition as `buildctl build` reads it, and its
	// local sources.
	LLB(ctx context.Context, req *LLBRequest) ([]byte, []Local, error)
}

// ErrFallback is a Backend handing a step to kiln's local fallback.
var ErrFallback = errors.New("no buildkitd is left; the step runs in kiln's local sandbox")

var errClosed = errors.New("kiln closed kiln-buildkit's input while the request ran")

// Serve is the helper's side of the protocol: it answers kiln's hello
// (self is the helper's executable, for a mismatch error), makes the
// backend with open, and serves requests until r ends. Then it cancels
// what still runs and waits for it, so that nothing is left mounted.
func Serve(r io.Reader, w io.Writer, self string, open func(h *Hello, warn func(string)) (Backend, error)) error {
	c := newConn(r, w)
	m, err := c.recv()
	if err != nil {
		return fmt.Errorf("reading kiln's hello (this program is started by kiln, not by hand): %w", err)
	}
	if m.Kind != KindHello || m.Hello == nil {
		return fmt.Errorf("kiln's first message is %q, not a hello: this program is started by kiln, not by hand", m.Kind)
	}
	mine := &Hello{Proto: Proto, Build: BuildID(), Path: self}
	reply := &Msg{Kind: KindHello, Hello: mine}
	if err := checkHello(m.Hello, mine); err != nil {
		reply.Err = err.Error()
		c.send(reply)
		return err
	}
	b, err := open(m.Hello, func(msg string) { c.send(&Msg{Kind: KindWarn, Text: msg}) })
	if err != nil {
		reply.Err = err.Error()
		c.send(reply)
		return err
	}
	if err := c.send(reply); err != nil {
		return err
	}

	ctx, cancelAll := context.WithCancelCause(context.Background())
	defer cancelAll(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	running := map[uint64]context.CancelFunc{}
	defer wg.Wait()
	for {
		m, err := c.recv()
		if err != nil {
			cancelAll(errClosed)
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Kind == KindCancel {
			mu.Lock()
			if cancel := running[m.ID]; cancel != nil {
				cancel()
			}
			mu.Unlock()
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		mu.Lock()
		running[m.ID] = cancel
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := serveOne(rctx, c, b, m)
			if done.Err != "" && errors.Is(context.Cause(rctx), errClosed) {
				done.Err = errClosed.Error()
			}
			mu.Lock()
			delete(running, m.ID)
			mu.Unlock()
			cancel()
			c.send(done)
		}()
	}
}

// serveOne runs one request and returns its answer.
func serveOne(ctx context.Context, c *conn, b Backend, m *Msg) *Msg {
	done := &Msg{Kind: KindDone, ID: m.ID}
	setErr := func(err error) {
		switch {
		case err == nil:
		case errors.Is(err, ErrFallback):
			done.Fallback = true
		case errors.Is(err, executor.ErrRunLocally):
			done.RunLocally = true
		default:
			done.Err = err.Error()
		}
	}
	switch {
	case m.Kind == KindPrepare:
		setErr(b.Prepare(ctx))
	case m.Kind == KindExec && m.Spec != nil:
		spec := *m.Spec
		spec.Stdout = &frameWriter{c: c, id: m.ID, kind: KindStdout}
		spec.Stderr = &frameWriter{c: c, id: m.ID, kind: KindStderr}
		res, err := b.Exec(ctx, spec)
		done.Res = &res
		setErr(err)
	case m.Kind == KindFile && m.File != nil:
		setErr(b.File(ctx, *m.File))
	case m.Kind == KindLLB && m.LLB != nil:
		def, locals, err := b.LLB(ctx, m.LLB)
		done.Data, done.Locals = def, locals
		setErr(err)
	default:
		done.Err = fmt.Sprintf("kiln-buildkit does not know the request %q: kiln and kiln-buildkit must be built together", m.Kind)
	}
	return done
}

// frameWriter sends what a step writes as output frames.
type frameWriter struct {
	c    *conn
	id   uint64
	kind string
}

func (w *frameWriter) Write(p []byte) (int, error) {
	if err := w.c.send(&Msg{Kind: w.kind, ID: w.id, Data: p}); err != nil {
		return 0, err
	}
	return len(p), nil
}
