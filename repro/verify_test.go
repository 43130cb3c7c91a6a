package repro

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/store"
)

// TestMain makes the test binary the rebuild's child when it is started
// as "fake-rebuild": a stand-in for kiln that records outputs showing the
// conditions it ran under.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "fake-rebuild" {
		if err := fakeRebuild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake rebuild:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeNodes are the derivations of the fake build, inputs first, each with
// its inputs and what its own layer's file holds: the condition it is
// sensitive to.
var fakeNodes = []struct {
	name   string
	inputs []string
	own    func() string
}{
	{"a", nil, func() string { return "stable" }},
	{"b", []string{"a"}, func() string { return "TZ=" + os.Getenv("TZ") }},
	{"c", []string{"b"}, func() string { return "stable" }},
	{"clock", nil, func() string { return strconv.FormatInt(time.Now().UnixNano(), 10) }},
	{"umask", nil, func() string {
		m := syscall.Umask(0)
		syscall.Umask(m)
		return fmt.Sprintf("%03o", m)
	}},
	{"cwd", nil, func() string { d, _ := os.Getwd(); return d }},
	{"locale", nil, func() string { return os.Getenv("LANG") + " " + os.Getenv("LC_ALL") }},
	{"cpus", nil, func() string {
		var set unix.CPUSet
		unix.SchedGetaffinity(0, &set)
		return strconv.Itoa(set.Count())
	}},
	{"kernel", nil, func() string {
		var u unix.Utsname
		unix.Uname(&u)
		return unix.ByteSliceToString(u.Release[:])
	}},
	{"hostname", nil, func() string { h, _ := os.Hostname(); return h }},
}

func fakeDigest(name string) digest.Digest { return digest.FromString("drv " + name) }

// fakeGraph is the graph of fakeNodes with targets for the given names.
func fakeGraph(targets ...string) *compiler.Graph {
	g := &compiler.Graph{Nodes: map[digest.Digest]*compiler.Derivation{}}
	for _, n := range fakeNodes {
		d := &compiler.Derivation{Name: n.name, Description: "make " + n.name}
		for _, in := range n.inputs {
			d.Inputs = append(d.Inputs, fakeDigest(in))
		}
		g.Nodes[fakeDigest(n.name)] = d
		g.Order = append(g.Order, fakeDigest(n.name))
	}
	for _, t := range targets {
		g.Targets = append(g.Targets, &compiler.Target{Kind: "stage", Name: t, Address: "stage." + t,
			Platforms: []string{"linux/amd64"}, States: map[string]digest.Digest{"linux/amd64": fakeDigest(t)}})
	}
	return g
}

// fakeRebuild is the child: args are the store, then the Rebuild's umask,
// hostname and shuffle, and "fail" to fail after printing a log.
func fakeRebuild(args []string) error {
	if slices.Contains(args, "fail") {
		for i := range 30 {
			fmt.Printf("log line %d\n", i)
		}
		return fmt.Errorf("a step failed")
	}
	r := Rebuild{Store: args[0], Umask: args[1], Hostname: args[2]}
	if err := r.ApplyToSelf(); err != nil {
		return err
	}
	return fakeBuild(r.Store)
}

// fakeBuild records every fake node's output in the store at root: the
// layers of its inputs, then its own with one file.
func fakeBuild(root string) error {
	st, err := store.Open(root)
	if err != nil {
		return err
	}
	defer st.Close()
	layers := map[string][]digest.Digest{}
	for _, n := range fakeNodes {
		var ls []digest.Digest
		for _, in := range n.inputs {
			ls = append(ls, layers[in]...)
		}
		content := n.name + ": " + n.own() + "\n"
		d := digest.FromString(content)
		tmp, err := st.TempDir("layer")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, n.name+".txt"), []byte(content), 0o644); err != nil {
			return err
		}
		if err := st.AddLayer(tmp, d, store.LayerInfo{}); err != nil {
			return err
		}
		layers[n.name] = append(ls, d)
		if err := st.Record(fakeDigest(n.name), store.Output{Layers: layers[n.name]}); err != nil {
			return err
		}
	}
	return nil
}

// fakeConfig is a Config over a first build made in this process, whose
// rebuilds are fake children, with events collected in *events.
func fakeConfig(t *testing.T, events *[]Event, targets ...string) Config {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "src", "build.hcl")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("# the fake build\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The first build runs where a plain rebuild does.
	first := filepath.Join(dir, "first")
	cmd := exec.Command(exe, "fake-rebuild", first, "", "", "false")
	cmd.Dir = filepath.Dir(file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the first build: %v\n%s", err, out)
	}
	st, err := store.Open(first, store.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return Config{
		Graph: fakeGraph(targets...), Store: st, BuildFile: file, Jobs: 2,
		Rounds: 1, Isolate: true, TempDir: dir,
		Exe: exe,
		Command: func(r Rebuild) []string {
			return []string{"fake-rebuild", r.Store, r.Umask, r.Hostname, strconv.FormatBool(r.Shuffle)}
		},
		Environ: os.Environ(),
		Events:  func(e Event) { *events = append(*events, e) },
	}
}

func mismatchNames(rep *Report) []string {
	var names []string
	for _, m := range rep.Mismatches {
		names = append(names, m.Name)
	}
	return names
}

// TestVerifyIsolates: every variation applied by the parent (environment,
// working directory) or by the child to itself (umask) is seen by the
// rebuild, and isolation names the one that exposes each mismatch.
func TestVerifyIsolates(t *testing.T) {
	if m := syscall.Umask(0o22); m == 0o77 {
		syscall.Umask(m)
		t.Skip("this process's umask is the one the umask variation sets")
	} else {
		syscall.Umask(m)
	}
	var events []Event
	cfg := fakeConfig(t, &events, "c", "clock", "umask", "cwd", "locale")
	cfg.Vary = []Variation{TZ, Umask, Locale, Cwd, Order}
	rep, err := Verify(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mismatchNames(rep), []string{"b", "c", "clock", "umask", "cwd", "locale"}; !slices.Equal(got, want) {
		t.Fatalf("mismatches %v, want %v", got, want)
	}
	if rep.Round != 1 || rep.Rounds != 1 || rep.Derivations != 7 || rep.Causes() != 5 {
		t.Errorf("report: round %d of %d, %d derivations, %d causes; want round 1 of 1, 7, 5", rep.Round, rep.Rounds, rep.Derivations, rep.Causes())
	}
	want := map[string]Exposure{
		"b": {By: []Variation{TZ}}, "clock": {Plain: true, By: []Variation{}},
		"umask": {By: []Variation{Umask}}, "cwd": {By: []Variation{Cwd}}, "locale": {By: []Variation{Locale}},
	}
	for _, m := range rep.Mismatches {
		if m.Name == "c" {
			if !slices.Equal(m.Through, []string{"b"}) || len(m.Layers) != 0 {
				t.Errorf("c differs through %v with layers %v; want through b alone", m.Through, m.Layers)
			}
			continue
		}
		if m.Exposure == nil || m.Exposure.Plain != want[m.Name].Plain || !slices.Equal(m.Exposure.By, want[m.Name].By) {
			t.Errorf("%s exposed by %+v, want %+v", m.Name, m.Exposure, want[m.Name])
		}
		if len(m.Layers) != 1 || m.Layers[0].Index != len(m.First.Layers)-1 {
			t.Errorf("%s: layer diffs %+v, want its own (last) layer", m.Name, m.Layers)
			continue
		}
		if diff := strings.Join(m.Layers[0].Diff, "\n"); !strings.Contains(diff, "changed /"+m.Name+".txt") || !strings.Contains(diff, "+"+m.Name+": ") {
			t.Errorf("%s: diff\n%s", m.Name, diff)
		}
	}
	// Isolation stops once everything is explained: order is not tried.
	var tries []string
	for _, e := range events {
		if e, ok := e.(Isolating); ok {
			tries = append(tries, "["+Join(e.Vary, ",")+"]")
		}
	}
	if got := strings.Join(tries, " "); got != "[] [tz] [umask] [locale] [cwd]" {
		t.Errorf("isolation tried %s", got)
	}
	if m, _ := filepath.Glob(filepath.Join(cfg.TempDir, "kiln-verify-*")); len(m) != 0 {
		t.Errorf("rebuild folders left: %v", m)
	}
}

// TestVerifyMachine: the CPU count, kernel release and hostname are
// varied for the rebuild itself.
func TestVerifyMachine(t *testing.T) {
	var events []Event
	targets := []string{"kernel"}
	vary := []Variation{Kernel}
	if !oneCPU() {
		targets, vary = append(targets, "cpus"), append(vary, CPUs)
	}
	if os.Geteuid() == 0 {
		targets, vary = append(targets, "hostname"), append(vary, Hostname)
	}
	cfg := fakeConfig(t, &events, targets...)
	cfg.Vary, _ = Feasible(vary)
	rep, err := Verify(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var exposed []string
	for _, m := range rep.Mismatches {
		exposed = append(exposed, m.Name+"="+Join(m.Exposure.By, ","))
		if m.Name == "kernel" && !strings.Contains(strings.Join(m.Layers[0].Diff, "\n"), "+kernel: 2.6.") {
			t.Errorf("the kernel variation does not make uname say 2.6:\n%s", strings.Join(m.Layers[0].Diff, "\n"))
		}
	}
	slices.Sort(exposed)
	var want []string
	for _, v := range vary {
		want = append(want, string(v)+"="+string(v))
	}
	slices.Sort(want)
	if !slices.Equal(exposed, want) {
		t.Errorf("exposed %v, want %v", exposed, want)
	}
}

// TestVerifyRounds: without variation a reproducible build passes every
// round, each reported as it ends.
func TestVerifyRounds(t *testing.T) {
	var events []Event
	cfg := fakeConfig(t, &events, "c", "kernel")
	cfg.Rounds = 2
	rep, err := Verify(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Reproducible() || rep.Rounds != 2 || rep.Round != 0 || rep.Derivations != 4 {
		t.Fatalf("report %+v, want 2 reproducible rounds of 4 derivations", rep)
	}
	want := []Event{
		RoundStarted{Round: 1, Derivations: 4}, RoundIdentical{Round: 1, Derivations: 4},
		RoundStarted{Round: 2, Derivations: 4}, RoundIdentical{Round: 2, Derivations: 4},
	}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", events, want)
	}
}

// TestVerifyKeep: the rebuilds' folders stay, with each rebuild's log, and
// their place is announced.
func TestVerifyKeep(t *testing.T) {
	var events []Event
	cfg := fakeConfig(t, &events, "a")
	cfg.Keep = true
	if _, err := Verify(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	k, ok := events[0].(Keeping)
	if !ok || !strings.HasPrefix(k.Dir, filepath.Join(cfg.TempDir, "kiln-verify-")) {
		t.Fatalf("first event %v, want Keeping under %s", events[0], cfg.TempDir)
	}
	if _, err := os.Stat(filepath.Join(k.Dir, "rebuild-1", "build.log")); err != nil {
		t.Error(err)
	}
}

// TestVerifyRebuildFails: a rebuild that fails is an error quoting the end
// of its log, and nothing is left behind.
func TestVerifyRebuildFails(t *testing.T) {
	var events []Event
	cfg := fakeConfig(t, &events, "a")
	cfg.Vary = []Variation{TZ, Jobs}
	cmd := cfg.Command
	cfg.Command = func(r Rebuild) []string { return append(cmd(r), "fail") }
	_, err := Verify(context.Background(), cfg)
	if err == nil {
		t.Fatal("Verify succeeded with a failing rebuild")
	}
	for _, want := range []string{"the rebuild (tz, jobs) failed where the first build succeeded", "  | log line 29", "  | fake rebuild: a step failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "log line 9\n") {
		t.Errorf("error quotes more than the end of the log:\n%v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(cfg.TempDir, "kiln-verify-*")); len(m) != 0 {
		t.Errorf("rebuild folders left: %v", m)
	}
}

// TestVerifyInterrupted: a cancelled verification says so.
func TestVerifyInterrupted(t *testing.T) {
	var events []Event
	cfg := fakeConfig(t, &events, "a")
	cfg.Vary = []Variation{Time}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, cfg); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Verify of a cancelled context: %v, want interrupted", err)
	}
}

func TestChildEnv(t *testing.T) {
	t.Parallel()
	in := []string{"PATH=/bin", "KILN_STORE=/s", "SOURCE_DATE_EPOCH=1", "TZ=UTC", "LANG=C", "LC_TIME=C", "HOME=/root"}
	if got, want := childEnv(in, false, false), []string{"PATH=/bin", "TZ=UTC", "LANG=C", "LC_TIME=C", "HOME=/root"}; !slices.Equal(got, want) {
		t.Errorf("childEnv without variation = %q, want %q", got, want)
	}
	if got, want := childEnv(in, true, true), []string{"PATH=/bin", "HOME=/root", "TZ=Pacific/Chatham", "LANG=tr_TR.UTF-8", "LC_ALL=tr_TR.UTF-8"}; !slices.Equal(got, want) {
		t.Errorf("childEnv with tz and locale = %q, want %q", got, want)
	}
	if in[1] != "KILN_STORE=/s" {
		t.Error("childEnv changed its argument")
	}
}

func TestJobsVariation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ first, want int }{{4, 1}, {2, 1}, {1, max(2, runtime.NumCPU())}} {
		v := &verifier{cfg: Config{Jobs: tc.first, BuildFile: "build.hcl", Store: rootOnly(t.TempDir())}, tmpRoot: t.TempDir()}
		p, err := v.plan(1, []Variation{Jobs})
		if err != nil {
			t.Fatal(err)
		}
		if p.Jobs != tc.want {
			t.Errorf("-j %d varied: %d, want %d", tc.first, p.Jobs, tc.want)
		}
	}
}

// rootOnly is a StoreReader for tests that only need its root.
type rootOnly string

func (r rootOnly) Root() string { return string(r) }
func (rootOnly) LayerPath(digest.Digest) string {
	return ""
}
func (rootOnly) LookupMany([]digest.Digest) (map[digest.Digest]store.Output, error) {
	return nil, nil
}
