package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-build/kiln/golden"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/realize/sandbox"
)

// TestMain lets libcontainer re-execute the test binary as a sandbox's
// init, as it re-executes kiln.
func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

const tinyBuild = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
  default           = ["app"]
}

source "local" "busybox" {
  path = "rootfs"
}

stage "hello" {
  from = source.local.busybox
  run {
    shell = "echo hello > /hello"
  }
}

image "app" {
  from = stage.hello
}
`

// project writes a build file (and, when rootfs, the busybox root
// filesystem it starts from) into a new folder and returns its path.
func project(t *testing.T, src string, rootfs bool) string {
	t.Helper()
	dir := t.TempDir()
	if rootfs {
		if err := testutil.WriteBusyboxRootfs(filepath.Join(dir, "rootfs"), testutil.Busybox(t)); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "build.hcl")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// recorder collects a session's events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) event(e Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }

func (r *recorder) phases() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		switch e.Kind {
		case PhaseStarted:
			out = append(out, "+"+string(e.Phase))
		case PhaseFinished:
			out = append(out, "-"+string(e.Phase))
		}
	}
	return out
}

func (r *recorder) count(kind Kind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func (r *recorder) steps(kind realize.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == Step && e.Step.Kind == kind {
			n++
		}
	}
	return n
}

// TestBuildThroughTheSandbox builds a one-step image in a real sandbox,
// then builds it again from the store and plans it.
func TestBuildThroughTheSandbox(t *testing.T) {
	testutil.RequireRoot(t)
	file := project(t, tinyBuild, true)
	storeRoot := filepath.Join(t.TempDir(), "store")
	build := func() (*recorder, *Result, *Session) {
		t.Helper()
		var rec recorder
		s, err := Open(Options{File: file, StoreRoot: storeRoot, Jobs: 2, Events: rec.event})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		res, err := s.Build(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return &rec, res, s
	}

	rec, res, s := build()
	want := "+load -load +open store -open store +compile -compile +realize -realize +roots -roots"
	if got := strings.Join(rec.phases(), " "); got != want {
		t.Errorf("phases:\n got %s\nwant %s", got, want)
	}
	if n := rec.steps(realize.EventDone); n == 0 {
		t.Error("no step reported done in the first build")
	}
	// The image declares no outputs: exporting writes nothing.
	if _, err := s.Export(context.Background(), res, ExportOptions{}); err != nil {
		t.Errorf("Export: %v", err)
	}
	if got := strings.Join(rec.phases()[len(rec.phases())-2:], " "); got != "+export -export" {
		t.Errorf("Export's phases: %s", got)
	}
	// An output given as --output would give it is written and reported;
	// the image recorded for a golden file has the digest it was written
	// with.
	layout := filepath.Join(t.TempDir(), "app.oci")
	mds, err := s.Export(context.Background(), res, ExportOptions{Specs: []string{"type=oci,dest=" + layout}})
	if err != nil {
		t.Fatalf("Export to %s: %v", layout, err)
	}
	if _, err := os.Stat(filepath.Join(layout, "index.json")); err != nil {
		t.Errorf("the OCI layout: %v", err)
	}
	if n := rec.count(Exported); n != 1 {
		t.Errorf("%d Exported events, want 1", n)
	}
	gf, err := s.Record(context.Background(), res, nil)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	exported, _ := mds["image.app"]["containerimage.digest"].(string)
	if got := gf.Targets["image.app"]; got == nil || len(got.Manifests) != 1 || exported == "" || got.Manifests[0].Digest != exported {
		t.Errorf("recorded %+v; the export's digest is %q", got, exported)
	}
	if len(res.Graph.Targets) != 1 || res.Graph.Targets[0].Address != "image.app" {
		t.Fatalf("targets: %+v", res.Graph.Targets)
	}
	state := res.Graph.Targets[0].States["linux/amd64"]
	out, ok := res.Outputs[state]
	if !ok || len(out.Layers) == 0 {
		t.Fatalf("no output with layers for the state %s: %+v", state, out)
	}
	b, err := os.ReadFile(filepath.Join(res.Store.LayerPath(out.Layers[len(out.Layers)-1]), "hello"))
	if err != nil || string(b) != "hello\n" {
		t.Errorf("the step's file: %q, %v", b, err)
	}
	if epoch, from := s.Epoch(); epoch != 1700000000 || from != s.Config().Filename {
		t.Errorf("epoch %d from %q", epoch, from)
	}
	roots, err := res.Store.Roots()
	if err != nil {
		t.Fatal(err)
	}
	if got := roots["last-build:"+filepath.Dir(file)+":image.app"]; len(got) != 1 || got[0] != state {
		t.Errorf("GC root: %v, want [%s]", got, state)
	}
	// The step's log is found by its digest's start, as kiln plan prints it.
	if d, err := FindLog(res.Store, state.Encoded()[:12]); err != nil || d != state {
		t.Errorf("FindLog: %s, %v; want %s", d, err, state)
	}
	if rep, err := VerifyStore(res.Store, false); err != nil || !rep.Consistent() {
		t.Errorf("VerifyStore: %+v, %v", rep, err)
	}
	// The session owns the store: closing it releases it for the next.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	rec, res2, s2 := build()
	if n := rec.steps(realize.EventDone); n != 0 {
		t.Errorf("the second build built %d steps, want none", n)
	}
	if got := res2.Graph.Targets[0].States["linux/amd64"]; got != state {
		t.Errorf("the second build's state %s, want %s", got, state)
	}
	s2.Close()

	plan := open(t, Options{File: file, StoreRoot: storeRoot})
	p, err := plan.Plan(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Entries {
		if e.Status != StatusCached {
			t.Errorf("%s %s: %s, want cached", e.Digest, e.Name, e.Status)
		}
	}
}

func open(t *testing.T, opts Options) *Session {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestErrors: what a caller must tell apart (a usage error, a build file
// with problems) comes back typed, with the diagnostics also delivered as
// an event when they arose.
func TestErrors(t *testing.T) {
	t.Parallel()
	good := project(t, tinyBuild, false)
	bad := project(t, "stage \"x\" {\n  from = \n}\n", false)
	noEpoch := project(t, strings.Replace(tinyBuild, "source_date_epoch = 1700000000", "", 1), false)
	for _, tc := range []struct {
		name  string
		opts  Options
		do    func(*Session) error
		usage bool // a *UsageError, or a *DiagError with Usage
		diag  bool // a *DiagError, delivered as an event too
		text  string
	}{
		{name: "missing file", opts: Options{File: filepath.Join(t.TempDir(), "none.hcl")}, text: "no build file at"},
		{name: "broken file", opts: Options{File: bad}, diag: true},
		{name: "bad epoch", opts: Options{File: noEpoch, SourceDateEpoch: "-5"}, usage: true, text: "--source-date-epoch"},
		{name: "unknown target", opts: Options{File: good}, do: func(s *Session) error { _, err := s.Compile([]string{"image.nope"}); return err }, usage: true, diag: true},
		{name: "bad secret", opts: Options{File: good, StoreRoot: t.TempDir(), Secrets: []string{"src=x"}}, do: func(s *Session) error { _, err := s.Build(context.Background(), nil); return err }, usage: true, text: "missing id="},
		{name: "unknown digest", opts: Options{File: good}, do: func(s *Session) error { _, _, err := s.Show("sha256:ffffffffffffffffff"); return err }, text: "no derivation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			tc.opts.Events = rec.event
			s, err := Open(tc.opts)
			if err == nil {
				defer s.Close()
				if tc.do == nil {
					t.Fatal("Open succeeded")
				}
				err = tc.do(s)
			}
			if err == nil {
				t.Fatal("no error")
			}
			var ue *UsageError
			var de *DiagError
			isDiag := errors.As(err, &de)
			isUsage := errors.As(err, &ue) || isDiag && de.Usage
			if isUsage != tc.usage || isDiag != tc.diag {
				t.Errorf("%v: usage %v diag %v, want %v %v", err, isUsage, isDiag, tc.usage, tc.diag)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			delivered := false
			for _, e := range rec.events {
				delivered = delivered || e.Kind == Diagnostics && e.Diags.HasErrors()
			}
			if delivered != tc.diag {
				t.Errorf("diagnostics delivered as an event: %v, want %v", delivered, tc.diag)
			}
		})
	}
}

// TestPlanDoesNotCreateTheStore: read-only commands leave no store behind.
func TestPlanDoesNotCreateTheStore(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "store")
	s := open(t, Options{File: project(t, tinyBuild, false), StoreRoot: root})
	p, err := s.Plan(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) == 0 {
		t.Fatal("empty plan")
	}
	for _, e := range p.Entries {
		if e.Status == StatusCached {
			t.Errorf("%s cached without a store", e.Name)
		}
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("plan created the store: %v", err)
	}
}

func TestLockCheck(t *testing.T) {
	t.Parallel()
	src := tinyBuild + `
source "http" "data" {
  url = "https://example.com/data.txt"
}
`
	s := open(t, Options{File: project(t, src, false)})
	changes, err := s.LockCheck()
	if err == nil || len(changes) != 1 || !strings.Contains(changes[0].String(), "source.http.data") {
		t.Errorf("LockCheck of a lock that lacks an input: %v, %v", changes, err)
	}
}

func TestLooksLikeDigest(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"abcd": true, "sha256:0123": true, "abc": false, "ABCD": false, "image.app": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
	} {
		if got := LooksLikeDigest(s); got != want {
			t.Errorf("LooksLikeDigest(%q) = %v", s, got)
		}
	}
}

// TestGolden records a build with a recorder standing in for the
// exporters, then checks it: unchanged, and after the recorder's output
// moves.
func TestGolden(t *testing.T) {
	testutil.RequireRoot(t)
	file := project(t, tinyBuild+`
artifact "hello" {
  from = stage.hello
  path = "/hello"
}
`, true)
	storeRoot := filepath.Join(t.TempDir(), "store")
	path := filepath.Join(filepath.Dir(file), "build.golden.hcl")
	salt := "a"
	record := func(ctx context.Context, res *Result, withFiles func(string) bool) (*golden.File, error) {
		gf := golden.New()
		for _, tg := range res.Graph.Targets {
			sum := sha256.Sum256([]byte(salt + string(tg.States["linux/amd64"])))
			gf.Put(&golden.Target{Kind: tg.Kind, Name: tg.Name, SHA256: hex.EncodeToString(sum[:])})
		}
		return gf, nil
	}
	// One session at a time: a session holds the store until closed.
	var last *Session
	session := func() *Session {
		if last != nil {
			last.Close()
		}
		last = open(t, Options{File: file, StoreRoot: storeRoot})
		return last
	}

	changes, err := session().GoldenUpdate(context.Background(), nil, path, []string{"artifact.hello"}, false, record)
	if err != nil || len(changes) != 1 {
		t.Fatalf("first update: %v, %v", changes, err)
	}
	gf, err := ReadGolden(path, false)
	if err != nil {
		t.Fatal(err)
	}
	changes, n, err := session().GoldenCheck(context.Background(), gf, path, nil, record)
	if err != nil || len(changes) != 0 || n != 1 {
		t.Fatalf("check of what was just recorded: %v, %d, %v", changes, n, err)
	}
	salt = "b"
	changes, _, err = session().GoldenCheck(context.Background(), gf, path, nil, record)
	if err == nil || len(changes) != 1 {
		t.Fatalf("check after the output moved: %v, %v", changes, err)
	}
	// Without names, an update re-records what the file has.
	changes, err = session().GoldenUpdate(context.Background(), gf, path, nil, false, record)
	if err != nil || len(changes) != 1 {
		t.Fatalf("second update: %v, %v", changes, err)
	}
}
