package main

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/internal/termtext"
	"github.com/kiln-build/kiln/realize"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// TestTTYViewLinesFitOneRow: the live view erases itself by moving up one
// row per line it drew, so a line that wraps or holds a newline leaves
// garbage on the screen. Descriptions hold whole multi-line scripts, and
// log lines hold anything a build prints.
func TestTTYViewLinesFitOneRow(t *testing.T) {
	var buf bytes.Buffer
	p, err := newProgress("tty", &buf, 9)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 300)
	for i, d := range []string{"sha256:01", "sha256:02", "sha256:03", "sha256:04", "sha256:05", "sha256:06", "sha256:07", "sha256:08"} {
		p.Event(realize.Event{Kind: realize.EventStart, Digest: digest.Digest(d), Name: "stage.s/run[0]", Description: "run /bin/sh -c 'for i in 1 2 3; do\n  echo " + long + "\ndone'"})
		for _, l := range []string{"tab\there\r", "\x1b[2Jcleared?", "日本語" + long, long} {
			p.Event(realize.Event{Kind: realize.EventLog, Digest: digest.Digest(d), Line: l})
		}
		if i == 0 {
			p.Event(realize.Event{Kind: realize.EventFailed, Digest: "sha256:09", Name: "stage.f", Description: "a\nb", Err: errors.New("x")})
		}
	}
	time.Sleep(250 * time.Millisecond) // a redraw or two from the ticker
	p.mu.Lock()
	drawn := p.drawn
	p.mu.Unlock()
	if drawn > 23 {
		t.Errorf("the view has %d lines: taller than a 24-row terminal", drawn)
	}
	p.Event(realize.Event{Kind: realize.EventStopped, Digest: "sha256:02", Name: "stage.s/run[0]"})
	p.Close()

	out := buf.String()
	if !strings.Contains(out, "... and ") {
		t.Errorf("eight running steps with logs on 24 rows do not say that more are running:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		// What clear writes (cursor up, erase line) precedes the text.
		text := ansi.ReplaceAllString(line, "")
		for _, r := range text {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("a control character %q reached the terminal in %q", r, text)
			}
		}
		cols := 0
		for _, r := range text {
			cols += termtext.Width(r)
		}
		if cols > 80 {
			t.Errorf("a line of %d columns wraps on an 80-column terminal: %q", cols, text)
		}
	}
	last := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	summary := ansi.ReplaceAllString(last[len(last)-1], "")
	if !strings.HasPrefix(summary, "9 derivations: 0 cached, 0 built, 1 failed, 1 stopped in ") {
		t.Errorf("the view does not end with the summary: %q", summary)
	}
}

// TestWarningsGoThroughTheView: a cache warns while steps run; written
// across the live view, it would be erased with the view's lines or leave
// them on the screen. It goes above the view, whole and on one line, and
// the view is drawn again below it; in JSON it is an event.
func TestWarningsGoThroughTheView(t *testing.T) {
	var buf bytes.Buffer
	p, err := newProgress("tty", &buf, 2)
	if err != nil {
		t.Fatal(err)
	}
	p.Event(realize.Event{Kind: realize.EventStart, Digest: "sha256:01", Name: "stage.s/run[0]", Description: "run make"})
	msg := "cache 127.0.0.1:5000/c:t is unavailable, building locally: " + strings.Repeat("y", 100) + "\x1b[2J"
	p.Warn(msg)
	p.Close()
	out := buf.String()
	i := strings.Index(out, "kiln: warning: cache 127.0.0.1:5000/c:t is unavailable")
	if i < 0 {
		t.Fatalf("the warning is not shown:\n%q", out)
	}
	line, rest, _ := strings.Cut(out[i:], "\n")
	if !strings.Contains(line, strings.Repeat("y", 100)) || strings.ContainsRune(line, 0x1b) {
		t.Errorf("the warning is cut or carries escapes: %q", line)
	}
	if !strings.Contains(rest, "stage.s/run[0]") {
		t.Errorf("the view is not drawn again below the warning: %q", rest)
	}
	if n := strings.Count(out, "kiln: warning:"); n != 1 {
		t.Errorf("the warning is shown %d times", n)
	}

	buf.Reset()
	if p, err = newProgress("json", &buf, 1); err != nil {
		t.Fatal(err)
	}
	p.Warn("cache down")
	p.Close()
	if !strings.Contains(buf.String(), `"event":"warning"`) || !strings.Contains(buf.String(), `"line":"cache down"`) {
		t.Errorf("a warning in JSON mode is not a warning event: %s", buf.String())
	}
}
