package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/realize"
)

// progress renders realizer events: a live view on a terminal, plain lines
// for CI and logs, or JSON lines for tools.
type progress struct {
	mu      sync.Mutex
	mode    string
	w       io.Writer
	start   time.Time
	total   int
	cached  int
	done    int
	failed  int
	running map[digest.Digest]*runningStep
	drawn   int // lines of the live view currently on screen
	stop    chan struct{}
	stopped chan struct{}
}

type runningStep struct {
	name, desc string
	start      time.Time
	last       []string
}

func newProgress(mode string, w io.Writer, total int) (*progress, error) {
	switch mode {
	case "auto", "":
		mode = "plain"
		if isTerminal(w) && os.Getenv("TERM") != "dumb" {
			mode = "tty"
		}
	case "tty", "plain", "json", "quiet":
	default:
		return nil, usageErrorf("--progress %q: want auto, tty, plain, json or quiet", mode)
	}
	p := &progress{mode: mode, w: w, start: time.Now(), total: total, running: map[digest.Digest]*runningStep{}}
	if mode == "tty" {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p, nil
}

func (p *progress) tick() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	defer close(p.stopped)
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.redraw()
			p.mu.Unlock()
		}
	}
}

// Close stops the live view and prints the summary line.
func (p *progress) Close() {
	if p.stop != nil {
		close(p.stop)
		<-p.stopped
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	if p.mode == "json" || p.mode == "quiet" {
		return
	}
	fmt.Fprintf(p.w, "%d derivations: %d cached, %d built, %d failed in %s\n", p.total, p.cached, p.done, p.failed, time.Since(p.start).Round(time.Millisecond))
}

type jsonEvent struct {
	Time        string `json:"time"`
	Kind        string `json:"event"`
	Digest      string `json:"digest"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Line        string `json:"line,omitempty"`
	DurationMS  int64  `json:"duration_ms,omitempty"`
	Error       string `json:"error,omitempty"`
}

func (p *progress) Event(e realize.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case realize.EventCached, realize.EventCutoff:
		p.cached++
	case realize.EventDone:
		p.done++
		delete(p.running, e.Digest)
	case realize.EventFailed:
		p.failed++
		delete(p.running, e.Digest)
	case realize.EventSkipped:
		delete(p.running, e.Digest)
	case realize.EventStart:
		p.running[e.Digest] = &runningStep{name: e.Name, desc: e.Description, start: time.Now()}
	case realize.EventLog:
		if r := p.running[e.Digest]; r != nil {
			r.last = append(r.last, e.Line)
			if len(r.last) > 3 {
				r.last = r.last[len(r.last)-3:]
			}
		}
	}
	switch p.mode {
	case "json":
		je := jsonEvent{Time: time.Now().UTC().Format(time.RFC3339Nano), Kind: string(e.Kind), Digest: string(e.Digest), Name: e.Name, Description: e.Description, Line: e.Line, DurationMS: e.Duration.Milliseconds()}
		if e.Err != nil {
			je.Error = e.Err.Error()
		}
		b, _ := json.Marshal(je)
		p.w.Write(append(b, '\n'))
	case "plain":
		p.plain(e)
	case "tty":
		p.clear()
		switch e.Kind {
		case realize.EventDone:
			fmt.Fprintf(p.w, "\x1b[32m✓\x1b[0m %s %s \x1b[2m%s\x1b[0m\n", e.Name, e.Description, e.Duration.Round(time.Millisecond))
		case realize.EventCutoff:
			fmt.Fprintf(p.w, "\x1b[36m=\x1b[0m %s \x1b[2munchanged inputs, reused\x1b[0m\n", e.Name)
		case realize.EventFailed:
			fmt.Fprintf(p.w, "\x1b[31m✗\x1b[0m %s %s\n", e.Name, e.Description)
		}
		p.redraw()
	}
}

func (p *progress) plain(e realize.Event) {
	el := time.Since(p.start).Seconds()
	switch e.Kind {
	case realize.EventStart:
		fmt.Fprintf(p.w, "#%-6.1f %s %s: %s\n", el, short(e.Digest), e.Name, e.Description)
	case realize.EventLog:
		fmt.Fprintf(p.w, "#%-6.1f %s | %s\n", el, short(e.Digest), e.Line)
	case realize.EventDone:
		fmt.Fprintf(p.w, "#%-6.1f %s %s: done in %s\n", el, short(e.Digest), e.Name, e.Duration.Round(time.Millisecond))
	case realize.EventCutoff:
		fmt.Fprintf(p.w, "#%-6.1f %s %s: inputs rebuilt identically, reused\n", el, short(e.Digest), e.Name)
	case realize.EventFailed:
		fmt.Fprintf(p.w, "#%-6.1f %s %s: FAILED\n", el, short(e.Digest), e.Name)
	case realize.EventSkipped:
		fmt.Fprintf(p.w, "#%-6.1f %s %s: skipped, an input failed\n", el, short(e.Digest), e.Name)
	}
}

func (p *progress) clear() {
	for ; p.drawn > 0; p.drawn-- {
		fmt.Fprint(p.w, "\x1b[1A\x1b[2K")
	}
}

func (p *progress) redraw() {
	if p.mode != "tty" {
		return
	}
	p.clear()
	var rs []*runningStep
	for _, r := range p.running {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].start.Before(rs[j].start) })
	var lines []string
	lines = append(lines, fmt.Sprintf("\x1b[1m[%d/%d]\x1b[0m %d cached, %d built, %d running  %s", p.cached+p.done, p.total, p.cached, p.done, len(rs), time.Since(p.start).Round(100*time.Millisecond)))
	for _, r := range rs {
		lines = append(lines, fmt.Sprintf(" \x1b[33m●\x1b[0m %s %s \x1b[2m%s\x1b[0m", r.name, r.desc, time.Since(r.start).Round(100*time.Millisecond)))
		for _, l := range r.last {
			if len(l) > 100 {
				l = l[:100]
			}
			lines = append(lines, "   \x1b[2m"+strings.ReplaceAll(l, "\x1b", "")+"\x1b[0m")
		}
	}
	for _, l := range lines {
		fmt.Fprintln(p.w, l)
	}
	p.drawn = len(lines)
}
