package main

import (
	"fmt"
	"os"
	"time"
)

// phases prints how long each phase of a command took when KILN_TIMING is
// set: the no-op build is kiln's hot path, and this is how it is watched.
type phases struct {
	on   bool
	last time.Time
}

func newPhases() *phases {
	return &phases{on: os.Getenv("KILN_TIMING") != "", last: time.Now()}
}

func (p *phases) mark(name string) {
	if !p.on {
		return
	}
	now := time.Now()
	fmt.Fprintf(os.Stderr, "kiln timing: %-12s %6.2f ms\n", name, float64(now.Sub(p.last).Microseconds())/1000)
	p.last = now
}
