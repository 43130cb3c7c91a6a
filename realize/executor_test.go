package realize

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize/executor"
)

// fakeExecutor records the specs it is given and runs no process: it
// writes the file "out" into the step's Upper, or fails with exit.
type fakeExecutor struct {
	prepared int
	specs    []executor.Spec
	exit     int
}

func (f *fakeExecutor) Prepare(context.Context) error { f.prepared++; return nil }

func (f *fakeExecutor) Exec(ctx context.Context, s executor.Spec) (executor.Result, error) {
	f.specs = append(f.specs, s)
	s.Stdout.Write([]byte("hello from " + s.Args[0] + "\n"))
	if f.exit != 0 {
		return executor.Result{ExitCode: f.exit}, nil
	}
	return executor.Result{}, os.WriteFile(filepath.Join(s.Upper, "out"), []byte("made"), 0o644)
}

// TestTheExecutorGetsWhatTheStepSees: the realizer hands the executor the
// step's root and mounts as layers, its environment with secrets added,
// its limits, and stores what the executor left in Upper as a new layer.
func TestTheExecutorGetsWhatTheStepSees(t *testing.T) {
	tg := newTestGraph(t)
	base := tg.fileStep("base", "", mkfile("/base"), compiler.FileAction{Action: "mkdir", Path: "/src", Mode: 0o755}, mkfile("/src/a"))
	run := tg.add(&compiler.Derivation{Kind: compiler.KindExec, Name: "run", Inputs: []digest.Digest{base},
		Limits: compiler.Limits{Pids: 7},
		Exec: &compiler.ExecOp{Args: []string{"make"}, Env: []string{"A=1"}, Cwd: "/w", Hostname: "h", Network: "none", Root: 0,
			Mounts: []compiler.Mount{
				{Type: "input", Dest: "/in", Input: 0, Selector: "src", ReadOnly: true},
				{Type: "tmpfs", Dest: "/tmp", Input: -1, SizeBytes: 1 << 20},
				{Type: "secret", Dest: "/run/s", Input: -1, SecretID: "tok", SecretEnv: "TOK", Mode: 0o400},
			}}})
	fe := &fakeExecutor{}
	var ev events
	r := New(openStore(t), Options{Executor: fe, Events: ev.record, Secrets: map[string][]byte{"tok": []byte("s3cr3t-value")}})
	outs, err := r.Realize(context.Background(), tg.g, []digest.Digest{run})
	if err != nil {
		t.Fatal(err)
	}
	if fe.prepared != 1 || len(fe.specs) != 1 {
		t.Fatalf("prepared %d times, ran %d specs; want 1 and 1", fe.prepared, len(fe.specs))
	}
	s := fe.specs[0]
	if len(s.Root) != 1 || s.Root[0].Digest != outs[base].Layers[0] {
		t.Errorf("root = %v, want base's layer", s.Root)
	}
	if want := []string{"A=1", "TOK=s3cr3t-value"}; !slices.Equal(s.Env, want) {
		t.Errorf("env = %q, want %q", s.Env, want)
	}
	if want := []string{"TOK=s3cr3t-value"}; !slices.Equal(s.SecretEnv, want) {
		t.Errorf("secret env = %q, want %q (an executor that records its steps must know which to keep out)", s.SecretEnv, want)
	}
	if s.Pids != 7 || s.MemoryBytes != DefaultLimits().MemoryBytes || s.Cwd != "/w" || s.Hostname != "h" || s.HostNetwork || s.Insecure {
		t.Errorf("spec settings = %+v", s)
	}
	if len(s.Mounts) != 3 {
		t.Fatalf("mounts = %+v, want 3", s.Mounts)
	}
	in := s.Mounts[0]
	if in.Type != executor.MountLayers || in.Dest != "/in" || !in.ReadOnly || len(in.Layers) != 1 || !strings.HasSuffix(in.Layers[0].Path, "/src") {
		t.Errorf("input mount = %+v, want the layer's src directory, read-only", in)
	}
	if tm := s.Mounts[1]; tm.Type != executor.MountTmpfs || tm.SizeBytes != 1<<20 {
		t.Errorf("tmpfs mount = %+v", tm)
	}
	if sm := s.Mounts[2]; sm.Type != executor.MountSecret || sm.Dest != "/run/s" || sm.Source == "" {
		t.Errorf("secret mount = %+v", sm)
	}
	if got := outs[run].Layers; len(got) != 2 || got[0] != outs[base].Layers[0] {
		t.Errorf("run's layers = %v, want base's and one more", got)
	}
	if got := ev.of(EventLog); len(got) != 1 {
		t.Errorf("log events = %v, want one line", got)
	}
}

// TestAStepThatExitsNonZeroFailsWithItsLog: the executor's result, not
// an error, decides; the failure names the command and carries the log.
func TestAStepThatExitsNonZeroFailsWithItsLog(t *testing.T) {
	tg := newTestGraph(t)
	run := tg.add(&compiler.Derivation{Kind: compiler.KindExec, Name: "run",
		Exec: &compiler.ExecOp{Args: []string{"false"}, Network: "none", Root: -1}})
	r := New(openStore(t), Options{Executor: &fakeExecutor{exit: 2}})
	_, err := r.Realize(context.Background(), tg.g, []digest.Digest{run})
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(be.Err.Error(), "command `false` exited with code 2") {
		t.Fatalf("err = %v, want run's exit code", err)
	}
	if len(be.LogTail) != 1 || be.LogTail[0] != "hello from false" || be.LogPath == "" {
		t.Errorf("log tail %q, path %q; want the step's one line and its log", be.LogTail, be.LogPath)
	}
}

// fileRunner is a fakeExecutor that also takes file steps: it declines
// them (decline) or writes "from-runner" into Upper.
type fileRunner struct {
	fakeExecutor
	files   []executor.FileSpec
	decline bool
}

func (f *fileRunner) File(ctx context.Context, s executor.FileSpec) error {
	f.files = append(f.files, s)
	if f.decline {
		return executor.ErrRunLocally
	}
	return os.WriteFile(filepath.Join(s.Upper, "from-runner"), []byte("x"), 0o644)
}

// TestFileStepsGoToAFileRunner: a file step without copies or owner names
// goes to an executor that runs file steps, and its Upper is stored as
// the step's layer; a declined one, and one with a copy, is applied by
// kiln itself, with the same output as without such an executor.
func TestFileStepsGoToAFileRunner(t *testing.T) {
	build := func(fr executor.Executor) (map[digest.Digest]digest.Digest, digest.Digest, digest.Digest) {
		tg := newTestGraph(t)
		base := tg.fileStep("base", "", compiler.FileAction{Action: "mkdir", Path: "/src", Mode: 0o755, Parents: true}, mkfile("/src/a"))
		cp := tg.add(&compiler.Derivation{Kind: compiler.KindFile, Name: "cp", Inputs: []digest.Digest{base},
			File: &compiler.FileOp{Base: 0, Actions: []compiler.FileAction{{Action: "copy", SrcInput: 0, Src: "/", Path: "/b/"}}}})
		r := New(openStore(t), Options{Executor: fr})
		outs, err := r.Realize(context.Background(), tg.g, []digest.Digest{base, cp})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[digest.Digest]digest.Digest{}
		for d, o := range outs {
			ids[d] = OutputID(o)
		}
		return ids, base, cp
	}
	local, base, cp := build(&fakeExecutor{})
	decl := &fileRunner{decline: true}
	declined, _, _ := build(decl)
	if len(decl.files) != 1 || decl.files[0].Actions[0].Action != "mkdir" || !decl.files[0].Actions[0].Parents || decl.files[0].Upper == "" {
		t.Fatalf("file specs = %+v, want base's step only (cp has a copy)", decl.files)
	}
	if declined[base] != local[base] || declined[cp] != local[cp] {
		t.Errorf("declined steps give %v, local ones %v", declined, local)
	}
	taken := &fileRunner{}
	got, _, _ := build(taken)
	if len(taken.files) != 1 || got[base] == local[base] {
		t.Errorf("the runner's result was not stored: %d specs, output %s (local %s)", len(taken.files), got[base], local[base])
	}
}
