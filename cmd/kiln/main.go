// Command kiln builds build.hcl files into content-addressed, reproducible
// outputs. It wires lang -> compiler -> realize -> export and owns all
// terminal I/O.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"

	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/internal/rootless"
	"github.com/kiln-build/kiln/realize/sandbox"
)

// init hands over to the container init when libcontainer re-executes kiln
// inside a new sandbox; it returns at once in a normal run, with the main
// goroutine tied to the main thread (see sandbox.Init).
// A kiln that a normal user started and that re-executed itself into a
// user namespace carries on there (internal/rootless).
func init() {
	sandbox.Init()
	rootless.Resume()
}

// runArgs are the arguments of this run, for re-executing it in a user
// namespace.
var runArgs []string

// exitError carries an exit code through cobra: 1 for build or check
// failures, 2 for usage errors.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// reported marks an error whose diagnostics were already printed.
var errReported = errors.New("reported")

// main leaves the work to a goroutine of its own and only waits for its
// exit code. The main goroutine is tied to the main thread for good
// (sandbox.Init), and a tied goroutine that blocks hands its processor to
// another thread and sleeps, then has it handed back on waking: two thread
// wake-ups and two sleeps for each wait on a channel, a lock or a slow
// system call, 8% of a no-op rebuild's CPU time when kiln ran there. A
// goroutine that is not tied just parks. The main thread still runs
// nothing else.
func main() {
	code := make(chan int, 1)
	go func() { code <- run(os.Args[1:]) }()
	os.Exit(<-code)
}

func run(args []string) int {
	deferFirstGC()
	// KILN_TRACE=FILE writes a Go execution trace, for studying where a
	// build's wall-clock time goes (go tool trace FILE).
	if f := os.Getenv("KILN_TRACE"); f != "" {
		if out, err := os.Create(f); err == nil {
			if trace.Start(out) == nil {
				defer func() { trace.Stop(); out.Close() }()
			}
		}
	}
	// KILN_CPUPROFILE=FILE writes a CPU profile (go tool pprof FILE).
	if f := os.Getenv("KILN_CPUPROFILE"); f != "" {
		if out, err := os.Create(f); err == nil {
			if pprof.StartCPUProfile(out) == nil {
				defer func() { pprof.StopCPUProfile(); out.Close() }()
			}
		}
	}
	// KILN_MEMPROFILE=FILE writes an allocation profile at exit, every
	// allocation sampled (go tool pprof -sample_index=alloc_space FILE).
	if f := os.Getenv("KILN_MEMPROFILE"); f != "" {
		runtime.MemProfileRate = 1
		defer func() {
			runtime.GC() // the profile counts allocations up to the last collection
			if out, err := os.Create(f); err == nil {
				pprof.Lookup("allocs").WriteTo(out, 0)
				out.Close()
			}
		}()
	}
	runArgs = args
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	code, reported := exitCode(err)
	if !reported {
		fmt.Fprintln(os.Stderr, "kiln:", err)
	}
	return code
}

// exitCode maps an error to kiln's exit code: 2 for usage errors (the
// caller's mistake), 1 for everything else. reported says the error was
// already shown (as diagnostics) and must not be printed again.
func exitCode(err error) (code int, reported bool) {
	code = 1
	var (
		ee *exitError
		ue *engine.UsageError
		de *engine.DiagError
	)
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ue):
		code = 2
	case errors.As(err, &de) && de.Usage:
		code = 2
	}
	return code, errors.Is(err, errReported) || errors.As(err, &de)
}
