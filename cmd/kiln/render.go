package main

import (
	"fmt"
	"os"
	"time"

	"github.com/kiln-build/kiln/engine"
)

// renderer shows a session's events on stderr: diagnostics, warnings, the
// realizer's progress in the --progress mode and, when timed, how long
// each phase took.
type renderer struct {
	g    *globals
	mode string
	prog *progress
	// progDone: the realize phase is over and prog's live view closed.
	progDone bool
	phases   *phases // nil: the command is not timed
}

// newRenderer renders the events of a command that builds nothing; timed
// commands report their phases under KILN_TIMING.
func newRenderer(g *globals, timed bool) *renderer {
	r := &renderer{g: g, mode: g.progress}
	if timed {
		r.phases = newPhases()
	}
	return r
}

// newBuildRenderer is newRenderer for a command that may run steps: it
// checks --progress before anything runs.
func newBuildRenderer(g *globals, timed bool) (*renderer, error) {
	r := newRenderer(g, timed)
	mode, err := progressMode(g.progress, os.Stderr)
	r.mode = mode
	return r, err
}

func (r *renderer) event(e engine.Event) {
	switch e.Kind {
	case engine.Diagnostics:
		printDiags(r.g, e.Files, e.Diags)
	case engine.Warning:
		// The caches warn while steps run: through the live view, not
		// across it.
		if r.prog != nil && !r.progDone {
			r.prog.Warn(e.Message)
			return
		}
		fmt.Fprintf(os.Stderr, "kiln: warning: %s\n", e.Message)
	case engine.Notice:
		fmt.Fprintf(os.Stderr, "kiln: %s\n", e.Message)
	case engine.Resolving:
		// For someone watching: not in plain output or a log.
		if g := r.g.progress; !(g == "plain" || g == "auto" && !isTerminal(os.Stderr)) {
			fmt.Fprintf(os.Stderr, "resolving %s\n", e.Address)
		}
	case engine.Collected:
		r.collected(e.Message)
	case engine.Exported:
		fmt.Fprintf(os.Stderr, "exported %s to %s\n", e.Address, e.Message)
	case engine.PhaseStarted:
		if e.Phase == engine.PhaseRealize {
			r.prog = startProgress(r.mode, os.Stderr, e.Total)
		}
	case engine.Step:
		if r.prog != nil {
			r.prog.Event(e.Step)
		}
	case engine.PhaseFinished:
		// r.prog stays: a step's last log line may still be on its way,
		// and the closed view takes it as it always did.
		if e.Phase == engine.PhaseRealize && r.prog != nil {
			r.prog.Close()
			r.progDone = true
		}
		r.mark(string(e.Phase))
	}
}

// mark ends a phase the command itself runs (printing, closing).
func (r *renderer) mark(phase string) {
	if r.phases != nil {
		r.phases.mark(phase)
	}
}

// collected shows an automatic garbage collection as one line, in the
// live view's place while it runs (a collection under min_free runs next
// to steps), as a JSON event for tools, and not at all when quiet.
func (r *renderer) collected(line string) {
	mode, _ := progressMode(r.mode, os.Stderr)
	switch {
	case mode == "quiet":
	case r.prog != nil && !r.progDone:
		r.prog.Line(line)
	case mode == "json":
		writeJSONLine(os.Stderr, jsonEvent{Time: time.Now().UTC().Format(time.RFC3339Nano), Kind: "gc", Line: line})
	default:
		fmt.Fprintf(os.Stderr, "kiln: %s\n", line)
	}
}
