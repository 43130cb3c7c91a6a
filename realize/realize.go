package realize

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/binfmt"
	"github.com/kiln-build/kiln/internal/platform"
	"github.com/kiln-build/kiln/realize/executor"
	"github.com/kiln-build/kiln/realize/sandbox"
	"github.com/kiln-build/kiln/store"
)

// EventKind says what happened to a derivation.
type EventKind string

const (
	EventCached  EventKind = "cached"  // found in the store
	EventCutoff  EventKind = "cutoff"  // inputs changed, output did not: reused
	EventStart   EventKind = "start"   // started building
	EventLog     EventKind = "log"     // one line of a running step's output
	EventDone    EventKind = "done"    // built and recorded
	EventFailed  EventKind = "failed"  // failed; Err says why
	EventSkipped EventKind = "skipped" // not run because an input failed
	EventStopped EventKind = "stopped" // started, then stopped because the build stopped (a failure elsewhere, an interrupt)
)

// Event is one progress report. Events arrive from many goroutines; the
// receiver serializes.
type Event struct {
	Kind        EventKind
	Digest      digest.Digest
	Name        string
	Description string
	Line        string
	Duration    time.Duration
	Err         error
}

// Options tune a realization. None of them changes a result.
type Options struct {
	// Jobs bounds the derivations built at once (default: the CPU count).
	Jobs int
	// KeepGoing builds everything that does not depend on a failure
	// instead of stopping at the first one.
	KeepGoing bool
	// Events receives progress; nil discards it.
	Events func(Event)
	// Dir is the build file's folder, where local sources live.
	Dir string
	// Secrets are the values of secret mounts by id. Never hashed or
	// stored, and replaced by *** in step output before it reaches the
	// log, progress and failure messages (values of MinRedactLen bytes
	// and more).
	Secrets map[string][]byte
	// SSH are the agent sockets of ssh mounts by id (--ssh). Never
	// hashed: which agent, and its keys, must not change a result.
	SSH map[string]string
	// Limits apply to exec steps that set none of their own; what is left
	// zero comes from DefaultLimits.
	Limits compiler.Limits
	// Rebuild lists derivations whose cached outputs are ignored (kiln
	// verify); their new outputs are returned, not recorded.
	Rebuild map[digest.Digest]bool
	// NoCache lists derivations built again whatever the store, early
	// cutoff or a cache holds (--no-cache, --no-cache-filter); their new
	// outputs replace the old ones, each in one atomic index write. What
	// depends on them is looked at again too: reused by early cutoff
	// when their new outputs are identical, built again when not.
	NoCache map[digest.Digest]bool
	// InsecureRegistries allows plain http to these registry hosts; loopback
	// registries are always allowed.
	InsecureRegistries []string
	// Shuffle starts independent derivations in a random order instead of
	// the graph's (kiln verify: a step must not depend on what ran first).
	Shuffle bool
	// AllowInsecure lets steps with security = "insecure" run. Without it
	// they fail before they start, as BuildKit refuses RUN
	// --security=insecure without the security.insecure entitlement: such
	// a step is root on this machine, and a build file from an untrusted
	// checkout must not get that by asking.
	AllowInsecure bool
	// Executor runs the exec steps (default: a libcontainer sandbox with
	// its state in SandboxRoot).
	Executor executor.Executor
	// RequireLimits makes the default sandbox fail rather than warn where
	// steps' memory and pids limits cannot be enforced (rootless, no
	// delegated cgroups).
	RequireLimits bool
	// Warn receives warnings that are about no one step (nil: dropped).
	Warn func(string)
	// Substituter, when set, is asked for what the store lacks before it
	// is built (see substitute.go).
	Substituter Substituter
	// BinfmtDir is the binfmt_misc table read to find out which foreign
	// platforms' steps can run under emulation (default: binfmt.Dir(),
	// /proc/sys/fs/binfmt_misc or $KILN_BINFMT_MISC). A directory
	// without a table is a machine that runs only its own platform.
	BinfmtDir string
}

// Realizer builds graphs into a store.
type Realizer struct {
	st   *store.Store
	opts Options
	// limits are opts.Limits with DefaultLimits for what they leave zero.
	limits func() compiler.Limits
	// machine is what this machine runs, read from the binfmt_misc table
	// the first time a step for another platform needs it.
	machine func() (*binfmt.Machine, error)

	prepareOnce sync.Once
	prepareErr  error

	// substFailed holds the keys the substituter failed to fetch.
	substFailed sync.Map

	// fresh are the NoCache derivations and everything depending on
	// them: not taken from the store as they are, but checked again.
	fresh map[digest.Digest]bool
}

// SandboxRoot is where the sandboxes of builds in st keep their state
// (sandbox.Cleanup cleans it).
func SandboxRoot(st *store.Store) string {
	return filepath.Join(st.Root(), "sandbox")
}

// prepareExecutor prepares the executor once, before the first step that
// needs it.
func (r *Realizer) prepareExecutor(ctx context.Context) error {
	r.prepareOnce.Do(func() {
		defer trace.StartRegion(ctx, "prepare executor").End()
		r.prepareErr = r.opts.Executor.Prepare(ctx)
	})
	return r.prepareErr
}

// New returns a Realizer for st.
func New(st *store.Store, opts Options) *Realizer {
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	if opts.Events == nil {
		opts.Events = func(Event) {}
	}
	if opts.Executor == nil {
		opts.Executor = &sandbox.Executor{Root: SandboxRoot(st), RequireLimits: opts.RequireLimits, Warn: opts.Warn}
	}
	if opts.BinfmtDir == "" {
		opts.BinfmtDir = binfmt.Dir()
	}
	// The defaults are looked up (sysinfo, and kiln's own cgroup in
	// /proc and /sys) when a step first runs: a no-op build runs none.
	r := &Realizer{st: st, opts: opts, limits: sync.OnceValue(func() compiler.Limits {
		lim, def := opts.Limits, DefaultLimits()
		if lim.MemoryBytes == 0 {
			lim.MemoryBytes = def.MemoryBytes
		}
		if lim.Pids == 0 {
			lim.Pids = def.Pids
		}
		return lim
	})}
	r.machine = sync.OnceValues(func() (*binfmt.Machine, error) {
		host, err := platform.Parse(compiler.DefaultPlatform())
		if err != nil {
			return nil, err
		}
		return binfmt.Detect(host, opts.BinfmtDir)
	})
	return r
}

// BuildError is a derivation that failed, with what a person needs to act:
// the step, what went wrong, the tail of its log and where the full log is.
type BuildError struct {
	Digest  digest.Digest
	Name    string
	Err     error
	LogTail []string
	LogPath string
}

func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) failed: %v", e.Name, short(e.Digest), e.Err)
	if len(e.LogTail) > 0 {
		b.WriteString("\n  last lines of its log:")
		for _, l := range e.LogTail {
			b.WriteString("\n  | " + l)
		}
	}
	if e.LogPath != "" {
		fmt.Fprintf(&b, "\n  full log: %s (or: kiln log %s)", e.LogPath, short(e.Digest))
	}
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.Err }

func short(d digest.Digest) string {
	h := d.Encoded()
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// ErrUnresolved is returned when a needed derivation depends on a source
// the lockfile does not pin.
var ErrUnresolved = errors.New("unresolved sources")

// node is the scheduler's view of one derivation.
type node struct {
	dg   digest.Digest
	drv  *compiler.Derivation
	done chan struct{}
	out  store.Output
	err  error
	// remote: the substituter has it, so its inputs were not needed.
	remote bool
	// inputs and dependents link n to the nodes it takes as inputs and
	// the nodes to build that take it (linkDependents); prio is its
	// priority for a job slot (chainLengths).
	inputs, dependents []*node
	prio               int
	// handed is set when the input that finished last handed its job slot
	// straight to n (slots.handOff), which then holds it without taking one.
	handed atomic.Bool
}

// finished says whether n's output (or failure) is known.
func (n *node) finished() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// Realize makes sure every root has an output in the store and returns the
// outputs of the roots and everything that had to be consulted.
func (r *Realizer) Realize(ctx context.Context, g *compiler.Graph, roots []digest.Digest) (map[digest.Digest]store.Output, error) {
	order := g.Closure(roots...)
	if err := checkResolved(g, order); err != nil {
		return nil, err
	}
	r.fresh = freshSet(g, order, r.opts.NoCache)
	nodes, err := r.needed(ctx, g, order, roots)
	if err != nil {
		return nil, err
	}
	// The executor (its privileges) is checked before anything runs, so a
	// build without them fails at once and clearly instead of after its
	// sources are fetched.
	for d, n := range nodes {
		if !n.finished() && g.Nodes[d].Kind == compiler.KindExec {
			if err := r.prepareExecutor(ctx); err != nil {
				return nil, err
			}
			break
		}
	}
	if err := r.build(ctx, g, order, nodes); err != nil {
		return nil, err
	}
	outs := make(map[digest.Digest]store.Output, len(nodes))
	for d, n := range nodes {
		outs[d] = n.out
	}
	return outs, nil
}

// freshSet is noCache and everything in order (topological) that depends
// on it.
func freshSet(g *compiler.Graph, order []digest.Digest, noCache map[digest.Digest]bool) map[digest.Digest]bool {
	if len(noCache) == 0 {
		return nil
	}
	fresh := map[digest.Digest]bool{}
	for _, d := range order {
		if noCache[d] || slices.ContainsFunc(g.Nodes[d].Inputs, func(in digest.Digest) bool { return fresh[in] }) {
			fresh[d] = true
		}
	}
	return fresh
}

// checkResolved fails when a derivation in order depends on a source the
// lockfile does not pin.
func checkResolved(g *compiler.Graph, order []digest.Digest) error {
	var unresolved []string
	for _, d := range order {
		// Name only where unresolvedness starts (an unpinned source or fixed
		// output), not everything built on it.
		if n := g.Nodes[d]; n.Unresolved && !hasUnresolvedInput(g, n) {
			unresolved = append(unresolved, n.Name)
		}
	}
	if len(unresolved) > 0 {
		return fmt.Errorf("%w: %s not pinned in build.lock.hcl; run 'kiln lock' to pin them", ErrUnresolved, strings.Join(unresolved, ", "))
	}
	return nil
}

// needed looks order up in the store and returns the nodes the roots
// need: the cached ones finished, the others to build. Demand-driven: a
// cached node's inputs are not needed at all.
func (r *Realizer) needed(ctx context.Context, g *compiler.Graph, order, roots []digest.Digest) (map[digest.Digest]*node, error) {
	var lookup []digest.Digest
	for _, d := range order {
		if !r.opts.Rebuild[d] && !r.fresh[d] {
			lookup = append(lookup, d)
		}
	}
	// The trace regions here (look up, prepare executor, lock build) are
	// what a build does before its first step; KILN_TRACE=FILE records
	// them (go tool trace FILE, user-defined regions).
	reg := trace.StartRegion(ctx, "look up")
	cached, err := r.st.LookupMany(lookup)
	reg.End()
	if err != nil {
		return nil, err
	}
	nodes := map[digest.Digest]*node{}
	var need func(d digest.Digest)
	need = func(d digest.Digest) {
		if _, ok := nodes[d]; ok {
			return
		}
		n := &node{dg: d, drv: g.Nodes[d], done: make(chan struct{})}
		nodes[d] = n
		if out, ok := cached[d]; ok {
			n.out = out
			close(n.done)
			r.opts.Events(Event{Kind: EventCached, Digest: d, Name: n.drv.Name, Description: n.drv.Description})
			return
		}
		if r.substitutable(ctx, d) {
			n.remote = true
			return
		}
		for _, in := range n.drv.Inputs {
			need(in)
		}
	}
	for _, d := range roots {
		need(d)
	}
	// What a cached result makes unnecessary counts as cached too, so that
	// progress adds up to the whole graph.
	for _, d := range order {
		if _, ok := nodes[d]; !ok {
			n := g.Nodes[d]
			r.opts.Events(Event{Kind: EventCached, Digest: d, Name: n.Name, Description: n.Description})
		}
	}
	return nodes, nil
}

// build realizes the unfinished nodes, each once its inputs are, at most
// Jobs at a time. Unless KeepGoing, the first failure stops the rest.
func (r *Realizer) build(ctx context.Context, g *compiler.Graph, order []digest.Digest, nodes map[digest.Digest]*node) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := newSlots(r.opts.Jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	// failed runs while the failed step still holds its job slot, so that
	// no waiting step takes the slot before the build is stopped.
	failed := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		if !r.opts.KeepGoing {
			cancel(err)
		}
	}
	launch := order
	var prio map[digest.Digest]int
	if r.opts.Shuffle {
		// Waiters of one priority are served in arrival order, so with
		// no priorities a shuffled launch is a shuffled start among the
		// steps that are ready.
		launch = slices.Clone(order)
		rand.Shuffle(len(launch), func(i, j int) { launch[i], launch[j] = launch[j], launch[i] })
	} else {
		prio = chainLengths(order, nodes)
		linkDependents(order, nodes, prio)
	}
	for _, d := range launch {
		n, ok := nodes[d]
		if !ok || n.finished() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(n.done)
			r.buildNode(ctx, g, n, nodes, sem, prio[n.dg], failed)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// buildNode waits for n's inputs and a job slot, then realizes n, setting
// n.out or n.err. A failure of n's own (not a failed input's, not a
// stop) goes to failed.
func (r *Realizer) buildNode(ctx context.Context, g *compiler.Graph, n *node, nodes map[digest.Digest]*node, sem *slots, prio int, failed func(error)) {
	if n.remote {
		r.buildRemote(ctx, g, n, sem, prio, failed)
		return
	}
	inputs := make([]store.Output, len(n.drv.Inputs))
	for i, in := range n.drv.Inputs {
		dep := nodes[in]
		<-dep.done
		if dep.err != nil {
			n.err = fmt.Errorf("input %s failed", dep.drv.Name)
			r.opts.Events(Event{Kind: EventSkipped, Digest: n.dg, Name: n.drv.Name, Description: n.drv.Description})
			if n.handed.Load() {
				sem.give()
			}
			return
		}
		inputs[i] = dep.out
	}
	if !n.handed.Load() {
		if err := sem.take(ctx, prio); err != nil {
			n.err = err
			return
		}
	}
	if ctx.Err() != nil {
		n.err = context.Cause(ctx)
		sem.give()
		return
	}
	n.out, n.err = r.realizeOne(ctx, n.dg, n.drv, inputs, sem)
	if n.err != nil && !errors.Is(n.err, errStopped) {
		failed(n.err)
	}
	if n.err != nil || !sem.handOff(n) {
		sem.give()
	}
}

// buildRemote fetches n, whose inputs were not needed, from the
// substituter; failing that, it realizes n's inputs, then n.
func (r *Realizer) buildRemote(ctx context.Context, g *compiler.Graph, n *node, sem *slots, prio int, failed func(error)) {
	if err := sem.take(ctx, prio); err != nil {
		n.err = err
		return
	}
	inputs, fetched, err := r.fetchOrInputs(ctx, g, n, sem)
	if err == nil && !fetched {
		n.out, err = r.realizeOne(ctx, n.dg, n.drv, inputs, sem)
	}
	sem.give()
	if n.err = err; err != nil && !errors.Is(err, errStopped) && ctx.Err() == nil {
		failed(err)
	}
}

func hasUnresolvedInput(g *compiler.Graph, n *compiler.Derivation) bool {
	for _, in := range n.Inputs {
		if g.Nodes[in].Unresolved {
			return true
		}
	}
	return false
}

// slotYield is LockBuild's busy hook for a caller holding a job slot in
// sem: the slot is given back while another process builds the same
// derivation, so that other ready steps run meanwhile, and retake takes
// it again once LockBuild returns (the caller gives it back in the end).
// It is taken again whatever ctx says: holders of the other slots finish
// or stop.
type slotYield struct {
	sem     *slots
	yielded bool
}

func (y *slotYield) busy() {
	y.sem.give()
	y.yielded = true
}

func (y *slotYield) retake() {
	if y.yielded {
		y.sem.retake()
		y.yielded = false
	}
}

// slotKey carries a step's *slotYield in its context, down to the waits
// inside produce (a "locked" cache mount) that should give the slot back
// too.
type slotKey struct{}

// slotOf returns the step's slotYield; one that yields nothing when the
// caller holds no slot (tests calling produce directly).
func slotOf(ctx context.Context) *slotYield {
	if y, ok := ctx.Value(slotKey{}).(*slotYield); ok {
		return y
	}
	return nil
}

// wait runs fn, a wait for another holder, with the slot given back
// while busy is called (fn calls it before waiting), and taken again
// before wait returns.
func (y *slotYield) wait(fn func(busy func()) error) error {
	if y == nil {
		return fn(nil)
	}
	defer y.retake()
	return fn(y.busy)
}

// errStopped marks a step that was stopped because the build stopped: the
// failure that stopped it is reported, the step itself is not.
var errStopped = errors.New("stopped")

// realizeOne builds one derivation whose inputs are realized, consulting the
// resolved key first (early cutoff). Every error is a *BuildError naming
// the step and reported as EventFailed, except a step stopped because ctx
// was cancelled: that reports EventStopped and returns an error matching
// errStopped and the cancellation's cause.
//
// It is the one place where an output is looked up, else produced, then
// recorded: what must hold for that whole sequence (one build of a
// derivation at a time) goes around its body. The caller holds a job slot
// in sem, which is given back while another process builds dg.
func (r *Realizer) realizeOne(ctx context.Context, dg digest.Digest, d *compiler.Derivation, inputs []store.Output, sem *slots) (store.Output, error) {
	ev := Event{Digest: dg, Name: d.Name, Description: d.Description}
	start := time.Now()
	fail := func(err error) (store.Output, error) {
		ev.Duration = time.Since(start)
		if cause := context.Cause(ctx); ctx.Err() != nil && (errors.Is(err, cause) || errors.Is(err, context.Canceled)) {
			ev.Kind = EventStopped
			r.opts.Events(ev)
			return store.Output{}, fmt.Errorf("%w: %w", errStopped, cause)
		}
		var be *BuildError
		if !errors.As(err, &be) {
			err = &BuildError{Digest: dg, Name: d.Name, Err: err}
		}
		ev.Kind, ev.Err = EventFailed, err
		r.opts.Events(ev)
		return store.Output{}, err
	}
	rk, err := resolvedKey(d, inputs)
	if err != nil {
		return fail(err)
	}
	if out, ok, err := r.cutoff(dg, rk); err != nil {
		return fail(err)
	} else if ok {
		ev.Kind = EventCutoff
		r.opts.Events(ev)
		return out, nil
	}
	y := &slotYield{sem: sem}
	ctx = context.WithValue(ctx, slotKey{}, y)
	if !r.opts.Rebuild[dg] {
		// Another kiln process (or goroutine) may be building dg right
		// now: wait for it and reuse its output rather than build twice.
		reg := trace.StartRegion(ctx, "lock build")
		out, ok, unlock, err := r.st.LockBuild(ctx, dg, y.busy)
		y.retake()
		reg.End()
		if err != nil {
			return fail(err)
		}
		defer unlock()
		if ok && !r.opts.NoCache[dg] && !r.changedInputs(dg, rk) {
			ev.Kind = EventCached
			r.opts.Events(ev)
			return out, nil
		}
		if out, ok, err := r.substitute(ctx, dg, rk); err != nil {
			return fail(err)
		} else if ok {
			ev.Kind = EventSubstituted
			r.opts.Events(ev)
			return out, nil
		}
	}
	ev.Kind = EventStart
	r.opts.Events(ev)
	start = time.Now()
	out, err := r.produce(ctx, dg, d, inputs)
	ev.Duration = time.Since(start)
	if err != nil {
		return fail(err)
	}
	out.Built = time.Now().UTC()
	out.DurationMS = ev.Duration.Milliseconds()
	out = classify(d, out)
	if err := r.record(dg, rk, out); err != nil {
		return fail(err)
	}
	ev.Kind = EventDone
	r.opts.Events(ev)
	return out, nil
}

// cutoff looks the resolved key rk up: inputs that were rebuilt but came
// out identical find the output built from them before, which is then
// recorded for dg too.
func (r *Realizer) cutoff(dg, rk digest.Digest) (store.Output, bool, error) {
	if rk == "" || r.opts.Rebuild[dg] || r.opts.NoCache[dg] {
		return store.Output{}, false, nil
	}
	out, ok, err := r.st.Lookup(rk)
	if err != nil || !ok {
		return store.Output{}, false, err
	}
	if err := r.st.Record(dg, out); err != nil {
		return store.Output{}, false, err
	}
	return out, true, nil
}

// changedInputs reports whether dg depends on a --no-cache rebuild whose
// output differs from before: its recorded output was made from the old
// one, so it is built again (cutoff has already found no output for its
// inputs as they are now).
func (r *Realizer) changedInputs(dg, rk digest.Digest) bool {
	return r.fresh[dg] && rk != ""
}

// produce builds d's output by its kind.
func (r *Realizer) produce(ctx context.Context, dg digest.Digest, d *compiler.Derivation, inputs []store.Output) (store.Output, error) {
	switch d.Kind {
	case compiler.KindSource:
		return r.source(ctx, dg, d)
	case compiler.KindExec:
		return r.exec(ctx, dg, d, inputs)
	case compiler.KindFile:
		return r.file(ctx, dg, d, inputs)
	case compiler.KindMerge:
		var out store.Output
		for _, in := range inputs {
			out.Layers = append(out.Layers, in.Layers...)
		}
		return out, nil
	case compiler.KindDiff:
		return diffLayers(inputs[0], inputs[1])
	}
	return store.Output{}, fmt.Errorf("unknown derivation kind %q", d.Kind)
}

// classify marks the outputs of sources and fixed-output steps, which
// automatic GC keeps longer than intermediate results: they come from
// outside and are the slowest to get back. The mark is in Meta, which
// no digest or output identity covers.
func classify(d *compiler.Derivation, out store.Output) store.Output {
	if d.Kind != compiler.KindSource && (d.Exec == nil || d.Exec.OutputHash == "") {
		return out
	}
	meta := make(map[string]string, len(out.Meta)+1)
	for k, v := range out.Meta {
		meta[k] = v
	}
	meta[store.MetaClass] = store.ClassSource
	out.Meta = meta
	return out
}

// record stores out under dg and under the resolved key rk, unless dg is
// rebuilt to be compared (kiln verify), not kept.
func (r *Realizer) record(dg, rk digest.Digest, out store.Output) error {
	if r.opts.Rebuild[dg] {
		return nil
	}
	if err := r.st.Record(dg, out); err != nil {
		return err
	}
	if rk != "" {
		return r.st.Record(rk, out)
	}
	return nil
}

// resolvedKey hashes d with its inputs replaced by the identity of their
// outputs. Sources have no inputs and no resolved key.
func resolvedKey(d *compiler.Derivation, inputs []store.Output) (digest.Digest, error) {
	if len(inputs) == 0 {
		return "", nil
	}
	cp := *d
	cp.Inputs = make([]digest.Digest, len(inputs))
	for i, in := range inputs {
		cp.Inputs[i] = OutputID(in)
	}
	b, err := cp.Canonical()
	if err != nil {
		return "", err
	}
	return digest.FromBytes(append([]byte("kiln-resolved-v1\n"), b...)), nil
}

// OutputID is the identity of a realized state: its layer list (and blob).
func OutputID(o store.Output) digest.Digest {
	var b strings.Builder
	b.WriteString("kiln-output-v1\n")
	for _, l := range o.Layers {
		b.WriteString(string(l))
		b.WriteByte('\n')
	}
	for _, bl := range o.Blobs {
		b.WriteString("blob " + string(bl) + "\n")
	}
	return digest.FromString(b.String())
}

// diffLayers is what upper adds to lower, when lower's layers are a prefix of
// upper's (upper was built on lower). Other diffs would need a tree
// comparison that kiln does not do yet.
func diffLayers(lower, upper store.Output) (store.Output, error) {
	if len(lower.Layers) > len(upper.Layers) {
		return store.Output{}, fmt.Errorf("diff: the upper state was not built on the lower one")
	}
	for i, l := range lower.Layers {
		if upper.Layers[i] != l {
			return store.Output{}, fmt.Errorf("diff: the upper state was not built on the lower one (layer %d differs)", i)
		}
	}
	return store.Output{Layers: append([]digest.Digest(nil), upper.Layers[len(lower.Layers):]...)}, nil
}
