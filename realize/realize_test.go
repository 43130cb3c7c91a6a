package realize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/store"
)

// testGraph interns derivations in the order given (inputs first).
type testGraph struct {
	t *testing.T
	g *compiler.Graph
}

func newTestGraph(t *testing.T) *testGraph {
	return &testGraph{t: t, g: &compiler.Graph{Nodes: map[digest.Digest]*compiler.Derivation{}}}
}

func (tg *testGraph) add(d *compiler.Derivation) digest.Digest {
	tg.t.Helper()
	d.SourceDateEpoch = 1700000000
	dg, err := d.Digest()
	if err != nil {
		tg.t.Fatal(err)
	}
	tg.g.Nodes[dg] = d
	tg.g.Order = append(tg.g.Order, dg)
	return dg
}

// fileStep applies actions on top of base ("" for scratch).
func (tg *testGraph) fileStep(name string, base digest.Digest, actions ...compiler.FileAction) digest.Digest {
	tg.t.Helper()
	d := &compiler.Derivation{Kind: compiler.KindFile, Name: name, File: &compiler.FileOp{Base: -1, Actions: actions}}
	if base != "" {
		d.Inputs = []digest.Digest{base}
		d.File.Base = 0
	}
	return tg.add(d)
}

// httpStep is a source served by h; its pin is the sha256 of body.
func (tg *testGraph) httpStep(name, url, body string) digest.Digest {
	sum := sha256.Sum256([]byte(body))
	return tg.add(&compiler.Derivation{Kind: compiler.KindSource, Name: name, Source: &compiler.SourceOp{
		Type: "http", Identifier: url, Pin: "sha256:" + hex.EncodeToString(sum[:]),
		Attrs: map[string]string{"filename": "f", "mode": "644"},
	}})
}

func mkfile(p string) compiler.FileAction {
	return compiler.FileAction{Action: "mkfile", Path: p, Mode: 0o644, Data: p}
}

// badMkdir fails: its parent does not exist and parents is not set.
var badMkdir = compiler.FileAction{Action: "mkdir", Path: "/no/such", Mode: 0o755}

// events records realizer events by kind and name.
type events struct {
	mu   sync.Mutex
	seen map[EventKind][]string
}

func (e *events) record(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen == nil {
		e.seen = map[EventKind][]string{}
	}
	e.seen[ev.Kind] = append(e.seen[ev.Kind], ev.Name)
}

func (e *events) of(k EventKind) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen[k]...)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestKeepGoingBuildsIndependentBranches(t *testing.T) {
	tg := newTestGraph(t)
	bad := tg.fileStep("bad", "", badMkdir)
	child := tg.fileStep("child-of-bad", bad, mkfile("/c"))
	good := tg.fileStep("good", "", mkfile("/g"))
	good2 := tg.fileStep("good2", good, mkfile("/g2"))
	st := openStore(t)
	var ev events
	r := New(st, Options{Jobs: 1, KeepGoing: true, Events: ev.record})
	_, err := r.Realize(context.Background(), tg.g, []digest.Digest{child, good2})
	var be *BuildError
	if !errors.As(err, &be) || be.Name != "bad" {
		t.Fatalf("err = %v, want bad's BuildError", err)
	}
	if _, ok, _ := st.Lookup(good2); !ok {
		t.Errorf("good2 was not built: --keep-going must build what does not depend on a failure")
	}
	if _, ok, _ := st.Lookup(child); ok {
		t.Errorf("child-of-bad was built on a failed input")
	}
	if got := ev.of(EventSkipped); len(got) != 1 || got[0] != "child-of-bad" {
		t.Errorf("skipped = %v, want [child-of-bad]", got)
	}
	if got := ev.of(EventFailed); len(got) != 1 {
		t.Errorf("failed = %v, want only bad", got)
	}
}

// blockingServer serves body on /gate once /slow has been requested, and
// holds /slow until the client gives up.
func blockingServer(t *testing.T, body string) (srv *httptest.Server, slowStarted, slowEnded chan struct{}) {
	slowStarted, slowEnded = make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/slow":
			once.Do(func() { close(slowStarted) })
			select {
			case <-req.Context().Done():
			case <-time.After(time.Minute):
			}
			close(slowEnded)
		case "/gate":
			select {
			case <-slowStarted:
			case <-time.After(time.Minute):
			}
			w.Write([]byte(body))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, slowStarted, slowEnded
}

func TestAFailureStopsRunningStepsWithoutBlamingThem(t *testing.T) {
	srv, _, slowEnded := blockingServer(t, "gate")
	tg := newTestGraph(t)
	slow := tg.httpStep("slow", srv.URL+"/slow", "never served")
	gate := tg.httpStep("gate", srv.URL+"/gate", "gate")
	bad := tg.fileStep("bad", gate, badMkdir)
	after := tg.fileStep("after-slow", slow, mkfile("/a"))
	var ev events
	r := New(openStore(t), Options{Jobs: 4, Events: ev.record})
	start := time.Now()
	_, err := r.Realize(context.Background(), tg.g, []digest.Digest{bad, after})
	if time.Since(start) > 30*time.Second {
		t.Fatalf("the running step was not stopped")
	}
	select {
	case <-slowEnded:
	case <-time.After(10 * time.Second):
		t.Fatalf("slow's request is still open after Realize returned")
	}
	var be *BuildError
	if !errors.As(err, &be) || be.Name != "bad" {
		t.Fatalf("err = %v, want bad's BuildError", err)
	}
	if strings.Contains(err.Error(), "slow") {
		t.Errorf("the error blames the step that was only stopped:\n%v", err)
	}
	if got := ev.of(EventFailed); len(got) != 1 || got[0] != "bad" {
		t.Errorf("failed = %v, want [bad]", got)
	}
	if got := ev.of(EventStopped); len(got) != 1 || got[0] != "slow" {
		t.Errorf("stopped = %v, want [slow]", got)
	}
}

func TestInterruptStopsRunningStepsAndSaysSo(t *testing.T) {
	srv, slowStarted, _ := blockingServer(t, "")
	tg := newTestGraph(t)
	slow := tg.httpStep("slow", srv.URL+"/slow", "never served")
	var ev events
	r := New(openStore(t), Options{Events: ev.record})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-slowStarted
		cancel()
	}()
	_, err := r.Realize(ctx, tg.g, []digest.Digest{slow})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var be *BuildError
	if errors.As(err, &be) {
		t.Errorf("an interrupted step is reported as failed: %v", err)
	}
	if got := ev.of(EventFailed); len(got) != 0 {
		t.Errorf("failed = %v, want none", got)
	}
	if got := ev.of(EventStopped); len(got) != 1 {
		t.Errorf("stopped = %v, want [slow]", got)
	}
}
