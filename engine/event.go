package engine

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/kiln-build/kiln/realize"
)

// Kind says what an Event reports.
type Kind int

const (
	// PhaseStarted: Phase begins. For PhaseRealize, Total is the number
	// of derivations the targets need.
	PhaseStarted Kind = iota + 1
	// PhaseFinished: Phase is over, successfully or not.
	PhaseFinished
	// Step: the realizer reports on one derivation (Step).
	Step
	// Diagnostics: problems in the build file (Diags, with the Files they
	// point into). Errors among them are also returned as a *DiagError.
	Diagnostics
	// Warning: something the user should know that does not stop the
	// session (Message).
	Warning
	// Notice: what the session is waiting for (Message).
	Notice
	// Resolving: kiln lock started resolving an input (Address).
	Resolving
	// Exported: a target's output was written (Address; Message
	// describes the output).
	Exported
	// Collected: an automatic garbage collection ran (Message says why,
	// what it freed and how long it took, on one line).
	Collected
)

// Phase is a stage of a session, in the order a build runs them.
type Phase string

// The phases of a session.
const (
	PhaseLoad      Phase = "load"
	PhaseOpenStore Phase = "open store"
	PhaseCompile   Phase = "compile"
	PhaseLockCheck Phase = "lock check"
	PhaseRealize   Phase = "realize"
	PhaseRoots     Phase = "roots"
	PhaseExport    Phase = "export"
	PhaseLookUp    Phase = "look up"
)

// Event is one report of a session's progress. Which fields are set
// depends on Kind.
type Event struct {
	Kind    Kind
	Phase   Phase
	Total   int
	Step    realize.Event
	Diags   hcl.Diagnostics
	Files   map[string]*hcl.File
	Message string
	Address string
}

func (s *Session) emit(e Event) {
	if s.opts.Events != nil {
		s.opts.Events(e)
	}
}

func (s *Session) started(p Phase)  { s.emit(Event{Kind: PhaseStarted, Phase: p}) }
func (s *Session) finished(p Phase) { s.emit(Event{Kind: PhaseFinished, Phase: p}) }
