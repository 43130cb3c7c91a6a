package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/term"

	"github.com/kiln-build/kiln/internal/termtext"
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
	halted  int // steps stopped by a failure elsewhere or an interrupt
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
	mode, err := progressMode(mode, w)
	if err != nil {
		return nil, err
	}
	return startProgress(mode, w, total), nil
}

// progressMode resolves --progress for w: auto is tty on a terminal, else
// plain.
func progressMode(mode string, w io.Writer) (string, error) {
	switch mode {
	case "auto", "":
		mode = "plain"
		if isTerminal(w) && os.Getenv("TERM") != "dumb" {
			mode = "tty"
		}
	case "tty", "plain", "json", "quiet":
	default:
		return "", usageErrorf("--progress %q: want auto, tty, plain, json or quiet", mode)
	}
	return mode, nil
}

// startProgress starts rendering total derivations in a resolved mode.
func startProgress(mode string, w io.Writer, total int) *progress {
	p := &progress{mode: mode, w: w, start: time.Now(), total: total, running: map[digest.Digest]*runningStep{}}
	if mode == "tty" {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p
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
	stopped := ""
	if p.halted > 0 {
		stopped = fmt.Sprintf(", %d stopped", p.halted)
	}
	fmt.Fprintf(p.w, "%d derivations: %d cached, %d built, %d failed%s in %s\n", p.total, p.cached, p.done, p.failed, stopped, time.Since(p.start).Round(time.Millisecond))
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
	case realize.EventCached, realize.EventCutoff, realize.EventSubstituted:
		p.cached++
	case realize.EventDone:
		p.done++
		delete(p.running, e.Digest)
	case realize.EventFailed:
		p.failed++
		delete(p.running, e.Digest)
	case realize.EventStopped:
		p.halted++
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
		width, _ := p.size()
		switch e.Kind {
		case realize.EventDone:
			dur := e.Duration.Round(time.Millisecond).String()
			fmt.Fprintf(p.w, "\x1b[32m✓\x1b[0m %s \x1b[2m%s\x1b[0m\n", termtext.Fit(e.Name+" "+e.Description, width-3-len(dur)), dur)
		case realize.EventCutoff:
			fmt.Fprintf(p.w, "\x1b[36m=\x1b[0m %s \x1b[2munchanged inputs, reused\x1b[0m\n", termtext.Fit(e.Name, width-28))
		case realize.EventSubstituted:
			fmt.Fprintf(p.w, "\x1b[36m↓\x1b[0m %s \x1b[2mfrom the cache\x1b[0m\n", termtext.Fit(e.Name, width-18))
		case realize.EventFailed:
			fmt.Fprintf(p.w, "\x1b[31m✗\x1b[0m %s\n", termtext.Fit(e.Name+" "+e.Description, width-2))
		case realize.EventStopped:
			fmt.Fprintf(p.w, "\x1b[33m■\x1b[0m %s \x1b[2mstopped\x1b[0m\n", termtext.Fit(e.Name, width-10))
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
	case realize.EventSubstituted:
		fmt.Fprintf(p.w, "#%-6.1f %s %s: fetched from the cache\n", el, short(e.Digest), e.Name)
	case realize.EventFailed:
		fmt.Fprintf(p.w, "#%-6.1f %s %s: FAILED\n", el, short(e.Digest), e.Name)
	case realize.EventSkipped:
		fmt.Fprintf(p.w, "#%-6.1f %s %s: skipped, an input failed\n", el, short(e.Digest), e.Name)
	case realize.EventStopped:
		fmt.Fprintf(p.w, "#%-6.1f %s %s: stopped\n", el, short(e.Digest), e.Name)
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
	// clear moves up one row per line drawn: every line must fit on one
	// row (no newline, no control character, no wrapping) and the view on
	// the screen, or the rows counted and the rows drawn drift apart.
	width, height := p.size()
	var lines []string
	head := fmt.Sprintf("[%d/%d] %d cached, %d built, %d running %s", p.cached+p.done, p.total, p.cached, p.done, len(rs), time.Since(p.start).Round(100*time.Millisecond))
	lines = append(lines, "\x1b[1m"+termtext.Fit(head, width)+"\x1b[0m")
	for i, r := range rs {
		step := []string{}
		el := time.Since(r.start).Round(100 * time.Millisecond).String()
		step = append(step, fmt.Sprintf(" \x1b[33m●\x1b[0m %s \x1b[2m%s\x1b[0m", termtext.Fit(r.name+" "+r.desc, width-4-len(el)), el))
		for _, l := range r.last {
			step = append(step, "   \x1b[2m"+termtext.Fit(l, width-3)+"\x1b[0m")
		}
		// Leave the last row free and, while steps remain after this one,
		// a row for saying so.
		room := max(height-1, 2) - len(lines)
		if i < len(rs)-1 {
			room--
		}
		if room < 1 {
			lines = append(lines, " \x1b[2m"+termtext.Fit(fmt.Sprintf("... and %d more running", len(rs)-i), width-1)+"\x1b[0m")
			break
		}
		step = step[:min(len(step), room)]
		lines = append(lines, step...)
	}
	for _, l := range lines {
		fmt.Fprintln(p.w, l)
	}
	p.drawn = len(lines)
}

// size is the terminal's width and height, 80x24 when it cannot be asked.
func (p *progress) size() (width, height int) {
	width, height = 80, 24
	if f, ok := p.w.(*os.File); ok {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil && w > 0 && h > 0 {
			width, height = w, h
		}
	}
	return width, height
}

// Line prints one line that is not a step's (an automatic collection) in
// the mode's form: above the live view, as a plain line, or as a JSON
// event whose event is "gc".
func (p *progress) Line(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case "quiet":
	case "json":
		writeJSONLine(p.w, jsonEvent{Time: time.Now().UTC().Format(time.RFC3339Nano), Kind: "gc", Line: line})
	case "tty":
		p.clear()
		width, _ := p.size()
		fmt.Fprintf(p.w, "%s\n", termtext.Fit(line, width))
		p.redraw()
	default:
		fmt.Fprintf(p.w, "#%-6.1f %s\n", time.Since(p.start).Seconds(), line)
	}
}

// Warn shows a warning that arrives while the view is live (a cache that
// is down, an entry refused) without tearing it: above the view on a
// terminal, in full since it says what to do; as a "warning" event in
// JSON; even when quiet, as warnings always are.
func (p *progress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case "json":
		writeJSONLine(p.w, jsonEvent{Time: time.Now().UTC().Format(time.RFC3339Nano), Kind: "warning", Line: msg})
	case "tty":
		p.clear()
		// No width: a warning wraps rather than loses its advice.
		fmt.Fprintf(p.w, "kiln: warning: %s\n", termtext.Fit(msg, math.MaxInt32))
		p.redraw()
	default:
		fmt.Fprintf(p.w, "kiln: warning: %s\n", msg)
	}
}

func writeJSONLine(w io.Writer, je jsonEvent) {
	b, _ := json.Marshal(je)
	w.Write(append(b, '\n'))
}
