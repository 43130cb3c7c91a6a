package buildkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/kiln-build/kiln/realize/executor"
)

// Pool spreads steps over several daemons: each step goes to the daemon
// running the fewest steps now. A daemon that fails (it dies, or the
// connection to it breaks) is left out from then on and the steps it was
// running start again on another daemon, or on Fallback when none is
// left. Nothing of a failed run reaches the store: its Upper is emptied
// before the next try, and the realizer stores Upper only after Exec
// succeeds.
type Pool struct {
	Daemons []*Executor
	// Fallback runs steps when no daemon is left (nil: fail the step).
	Fallback executor.Executor
	// Warn receives one line for each daemon given up on.
	Warn func(msg string)

	mu       sync.Mutex
	running  []int
	total    []int
	dead     []bool
	fallback sync.Once
	limits   sync.Once
	fbErr    error
}

// NewPool makes a pool of the daemons at addrs, with the TLS files in
// tlsDir for those that want them ("": none).
func NewPool(addrs []string, tlsDir string, fallback executor.Executor, warn func(string)) *Pool {
	p := &Pool{Fallback: fallback, Warn: warn}
	for _, a := range addrs {
		p.Daemons = append(p.Daemons, &Executor{Addr: a, TLSDir: tlsDir})
	}
	p.running = make([]int, len(addrs))
	p.total = make([]int, len(addrs))
	p.dead = make([]bool, len(addrs))
	return p
}

func (p *Pool) warn(format string, args ...any) {
	if p.Warn != nil {
		p.Warn(fmt.Sprintf(format, args...))
	}
}

// Prepare checks every daemon. Those that do not answer are left out;
// it fails only when none answers and there is no fallback.
func (p *Pool) Prepare(ctx context.Context) error {
	var errs []error
	alive := 0
	for i, d := range p.Daemons {
		if err := d.Prepare(ctx); err != nil {
			p.markDead(i, err, "")
			errs = append(errs, err)
			continue
		}
		alive++
	}
	if alive > 0 {
		return nil
	}
	if p.Fallback != nil {
		return p.prepareFallback(ctx)
	}
	return fmt.Errorf("no buildkitd answers (pass --buildkit-fallback local to build here instead): %w", errors.Join(errs...))
}

func (p *Pool) prepareFallback(ctx context.Context) error {
	p.fallback.Do(func() { p.fbErr = p.Fallback.Prepare(ctx) })
	return p.fbErr
}

func (p *Pool) markDead(i int, err error, id string) {
	p.mu.Lock()
	was := p.dead[i]
	p.dead[i] = true
	p.mu.Unlock()
	if was {
		return
	}
	if id == "" {
		p.warn("buildkitd at %s is left out of this build: %v", p.Daemons[i].Addr, err)
	} else {
		p.warn("buildkitd at %s failed while running step %s (%v); it is left out of this build and its steps run again elsewhere", p.Daemons[i].Addr, id, err)
	}
}

// pick reserves the live daemon running the fewest steps, or returns -1.
// Among equally loaded ones it takes the one given the fewest steps so
// far, so that a chain of steps does not stay on the first daemon.
func (p *Pool) pick() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	for i := range p.Daemons {
		if p.dead[i] {
			continue
		}
		if best < 0 || p.running[i] < p.running[best] ||
			(p.running[i] == p.running[best] && p.total[i] < p.total[best]) {
			best = i
		}
	}
	if best >= 0 {
		p.running[best]++
		p.total[best]++
	}
	return best
}

func (p *Pool) done(i int) {
	p.mu.Lock()
	p.running[i]--
	p.mu.Unlock()
}

// Exec runs spec on the least-loaded live daemon.
func (p *Pool) Exec(ctx context.Context, spec executor.Spec) (executor.Result, error) {
	if spec.MemoryBytes != 0 || spec.Pids != 0 {
		p.limits.Do(func() {
			p.warn("memory and pids limits are not enforced on buildkitd (LLB has no such limits): the daemon's own limits apply")
		})
	}
	var last error
	for {
		i := p.pick()
		if i < 0 {
			break
		}
		res, err := p.Daemons[i].Exec(ctx, spec)
		p.done(i)
		var de *DaemonError
		if err == nil || !errors.As(err, &de) || ctx.Err() != nil {
			return res, err
		}
		last = err
		p.markDead(i, err, spec.ID)
		if err := emptyDir(spec.Upper); err != nil {
			return executor.Result{}, err
		}
		if err := emptyDir(spec.Scratch); err != nil {
			return executor.Result{}, err
		}
	}
	if p.Fallback == nil {
		if last == nil {
			last = errors.New("no buildkitd is left")
		}
		return executor.Result{}, fmt.Errorf("no buildkitd is left to run this step (pass --buildkit-fallback local to build here instead): %w", last)
	}
	if err := p.prepareFallback(ctx); err != nil {
		return executor.Result{}, err
	}
	return p.Fallback.Exec(ctx, spec)
}

// emptyDir removes what dir holds, keeping dir.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// File runs a file step on the least-loaded live daemon, as Exec does a
// run; with no daemon left it is kiln's to apply when there is a
// fallback.
func (p *Pool) File(ctx context.Context, spec executor.FileSpec) error {
	var last error
	for {
		i := p.pick()
		if i < 0 {
			break
		}
		err := p.Daemons[i].File(ctx, spec)
		p.done(i)
		var de *DaemonError
		if err == nil || !errors.As(err, &de) || ctx.Err() != nil {
			return err
		}
		last = err
		p.markDead(i, err, spec.ID)
		if err := emptyDir(spec.Upper); err != nil {
			return err
		}
	}
	if p.Fallback == nil {
		if last == nil {
			last = errors.New("no buildkitd is left")
		}
		return fmt.Errorf("no buildkitd is left to run this step (pass --buildkit-fallback local to build here instead): %w", last)
	}
	return executor.ErrRunLocally
}
