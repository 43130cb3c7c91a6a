package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/repro"
	"github.com/kiln-build/kiln/store"
)

type verifyFlags struct {
	build   buildFlags
	vary    string
	rounds  int
	isolate bool
	keep    bool
	// againstCache compares a rebuild from nothing with the --cache-from
	// caches instead of with a build in the store.
	againstCache bool
	varySet      bool // --vary was given
}

func newVerifyCmd(g *globals) *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:               "verify [TARGET...]",
		ValidArgsFunction: completeTargets(g, 0),
		Short:             "Rebuild the targets from nothing under varied conditions and compare every output",
		Long: `verify builds the targets as kiln build does, then, for each round,
rebuilds every derivation they need from nothing, in a throw-away store, by
running kiln again under changed conditions, and compares each derivation's
output with the first build's. On a mismatch it names the step, shows what
differs inside its output (paths added, removed or changed; size, mode,
mtime and a diff of text files; the differing member of an archive) and,
when several variations were applied, rebuilds with one at a time to say
which one exposes it. Exit 1 on any mismatch.

With --against-cache, verify is an independent rebuilder for a shared
cache: it fetches (and checks) what the caches given with --cache-from (or
KILN_CACHE_FROM, or the build file's cache_from) hold for the targets'
derivations into a throw-away store, rebuilds the targets from nothing in
another, and compares each derivation the cache holds, naming the first
that differs. The caller's store is not used.

Variations (--vary, comma-separated, default all):
  time      the rebuild starts at least a second after the previous build
  tz        TZ=Pacific/Chatham instead of the caller's
  umask     umask 077 instead of the caller's
  hostname  another hostname (a new UTS namespace; needs root)
  locale    LANG/LC_ALL=tr_TR.UTF-8
  jobs      -j 1 when the first build ran several steps at once, else -j NumCPU
  store     a store in a deeper, differently named folder (the throw-away
            store is always somewhere else)
  cwd       a copy of the build file's folder elsewhere, run from there
  order     independent steps start in a random order
  cpus      the rebuild and its steps may run on one CPU only (affinity and
            cpuset), so nproc and sched_getaffinity say 1
  kernel    uname reports another kernel release (2.6.x, the UNAME26
            personality)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.varySet = cmd.Flags().Changed("vary")
			return runVerify(cmd.Context(), g, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.vary, "vary", repro.Join(repro.Variations(), ","), "variations to apply: "+repro.Join(repro.Variations(), ",")+", or none")
	fl.IntVar(&f.rounds, "rounds", 1, "rebuilds to compare with the first build")
	fl.BoolVar(&f.isolate, "isolate", true, "on a mismatch, rebuild with one variation at a time to find which exposes it")
	fl.BoolVar(&f.keep, "keep", false, "keep the throw-away stores and print where they are")
	fl.BoolVar(&f.againstCache, "against-cache", false, "compare a rebuild from nothing with what the --cache-from caches hold, not with a build in the store")
	fl.StringArrayVar(&f.build.cacheFrom, "cache-from", nil, "the caches --against-cache compares with: type=registry,ref=REF,trusted=PUBFILE or type=local,src=DIR (repeatable; also $KILN_CACHE_FROM)")
	fl.IntVarP(&f.build.jobs, "jobs", "j", runtime.NumCPU(), "derivations built at once in the first build")
	fl.BoolVar(&f.build.locked, "locked", os.Getenv("CI") != "", "refuse to build when build.lock.hcl is incomplete or stale (default when CI is set)")
	fl.StringArrayVar(&f.build.secrets, "secret", nil, "a secret for secret mounts: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
	fl.BoolVar(&f.build.allowInsecure, "allow-insecure", false, allowInsecureUsage)
	buildKitFlags(cmd, &f.build)
	return cmd
}

// buildKitFlags are --buildkit and its companions, for the commands that
// build besides kiln build (whose help says more).
func buildKitFlags(cmd *cobra.Command, f *buildFlags) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.buildkit, "buildkit", nil, "run steps on buildkitd at ADDR (repeatable; also $KILN_BUILDKIT_HOST)")
	fl.StringVar(&f.buildkitFallback, "buildkit-fallback", "", "where steps run once no buildkitd is left: local")
	fl.StringVar(&f.buildkitTLSDir, "buildkit-tlsdir", "", "ca.pem, cert.pem and key.pem for tcp:// buildkitd addresses")
}

func runVerify(ctx context.Context, g *globals, f verifyFlags, args []string) error {
	vary, err := repro.ParseVary(f.vary)
	if err != nil {
		return usageErrorf("--vary %q: %v", f.vary, err)
	}
	if f.againstCache && !f.varySet {
		// The question is whether the cache holds what this build file
		// makes: a plain rebuild answers it.
		vary = nil
	}
	if f.rounds < 1 {
		return usageErrorf("--rounds %d: want at least 1", f.rounds)
	}
	// Ctrl-C must reach the deferred removal of the throw-away stores: by
	// default Go would exit at once and leave them behind.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	vary, dropped := repro.Feasible(vary)
	for _, why := range dropped {
		fmt.Fprintln(os.Stderr, "kiln verify: "+why)
	}
	if len(f.build.cacheFrom) > 0 && !f.againstCache {
		return usageErrorf("--cache-from: kiln verify reads caches only with --against-cache")
	}
	r, err := newBuildRenderer(g, true)
	if err != nil {
		return err
	}
	if f.againstCache {
		return verifyAgainstCache(ctx, g, r, f, vary, args)
	}
	s, err := g.open(r, &f.build)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.Build(ctx, args)
	if err != nil {
		return err
	}
	rep, err := rebuildAndCompare(ctx, g, s, f, vary, res.Graph, res.Store)
	if err != nil {
		return err
	}
	if !rep.Reproducible() {
		printVerifyReport(os.Stdout, rep, "first build")
		return &exitError{code: 1, err: errors.New("verify: outputs differ between builds of the same inputs: the steps named above are not reproducible")}
	}
	fmt.Printf("verified: %d derivations rebuilt identically in %d round(s)\n", rep.Derivations, rep.Rounds)
	return nil
}

// rebuildAndCompare rebuilds graph from nothing in kiln verify's child
// processes and compares each derivation with what st holds.
func rebuildAndCompare(ctx context.Context, g *globals, s *engine.Session, f verifyFlags, vary []repro.Variation, graph *compiler.Graph, st *store.Store) (*repro.Report, error) {
	epoch, _ := s.Epoch()
	exe, err := kilnExecutable()
	if err != nil {
		return nil, err
	}
	command, err := rebuildCommand(g, f.build, graph, epoch)
	if err != nil {
		return nil, err
	}
	return repro.Verify(ctx, repro.Config{
		Graph:     graph,
		Store:     st,
		BuildFile: s.LocalFile(),
		Jobs:      f.build.jobs,
		Vary:      vary,
		Rounds:    f.rounds,
		Isolate:   f.isolate,
		Keep:      f.keep,
		Exe:       exe,
		Command:   command,
		Environ:   os.Environ(),
		Events:    printVerifyEvent,
	})
}

// verifyAgainstCache fetches what the caches hold for the targets into a
// throw-away store and compares it with a rebuild from nothing, under the
// variations asked for (none by default: the question is whether the
// cache holds what this build file makes).
func verifyAgainstCache(ctx context.Context, g *globals, r *renderer, f verifyFlags, vary []repro.Variation, args []string) error {
	tmp, err := os.MkdirTemp("", "kiln-verify-cache-")
	if err != nil {
		return err
	}
	if f.keep {
		fmt.Fprintf(os.Stderr, "kiln verify: keeping the cache's outputs in the store %s\n", filepath.Join(tmp, "store"))
	} else {
		defer os.RemoveAll(tmp)
	}
	g2 := *g
	g2.store = filepath.Join(tmp, "store")
	s, err := g2.open(r, &f.build)
	if err != nil {
		return err
	}
	defer s.Close()
	graph, err := s.Compile(args)
	if err != nil {
		return err
	}
	st, err := s.Store()
	if err != nil {
		return err
	}
	closure := graph.Closure(compiler.TargetRoots(graph.Targets)...)
	if _, err := s.FetchCached(ctx, st, closure); err != nil {
		return err
	}
	held, err := st.LookupMany(closure)
	if err != nil {
		return err
	}
	if len(held) == 0 {
		return &exitError{code: 1, err: fmt.Errorf("verify: the caches hold none of the %d derivations of the targets: nothing to compare (were they exported from this build file, with a key given in trusted=?)", len(closure))}
	}
	fmt.Printf("the caches hold %d of the %d derivations of the targets\n", len(held), len(closure))
	rep, err := rebuildAndCompare(ctx, g, s, f, vary, graph, st)
	if err != nil {
		return err
	}
	if !rep.Reproducible() {
		printVerifyReport(os.Stdout, rep, "cache")
		m := rep.Mismatches[0]
		return &exitError{code: 1, err: fmt.Errorf("verify: the cache's output of %s (%s) differs from a rebuild from nothing (see above for what differs): either the step is not reproducible (kiln verify %[3]s shows it) or the cache's entry was not built as this build file says; do not trust the cache for it", m.Name, m.Derivation, targetOf(m.Name))}
	}
	fmt.Printf("verified against the cache: %d derivations rebuilt identically to the cache's outputs\n", len(held))
	return nil
}

// targetOf is the target address a derivation name starts with:
// stage.build/run[1] is built by target stage.build.
func targetOf(name string) string {
	t, _, _ := strings.Cut(name, "/")
	return t
}

// rebuildCommand is the command line of a rebuild: kiln verify-rebuild of
// the first build's targets, with its variables, secrets and epoch, every
// path absolute since the rebuild may run from elsewhere.
func rebuildCommand(g *globals, f buildFlags, graph *compiler.Graph, epochSeconds int64) (func(repro.Rebuild) []string, error) {
	var common []string
	for _, kv := range g.vars {
		common = append(common, "--var", kv)
	}
	for _, vf := range g.varFiles {
		abs, err := filepath.Abs(vf)
		if err != nil {
			return nil, err
		}
		common = append(common, "--var-file", abs)
	}
	for _, s := range f.secrets {
		common = append(common, "--secret", absSecret(s))
	}
	if f.allowInsecure {
		common = append(common, "--allow-insecure")
	}
	// The rebuilds run where the first build did.
	for _, a := range f.buildkit {
		common = append(common, "--buildkit", a)
	}
	if f.buildkitFallback != "" {
		common = append(common, "--buildkit-fallback", f.buildkitFallback)
	}
	if f.buildkitTLSDir != "" {
		abs, err := filepath.Abs(f.buildkitTLSDir)
		if err != nil {
			return nil, err
		}
		common = append(common, "--buildkit-tlsdir", abs)
	}
	var targets []string
	for _, t := range graph.Targets {
		targets = append(targets, t.Address)
	}
	epoch := strconv.FormatInt(epochSeconds, 10)
	return func(r repro.Rebuild) []string {
		args := []string{"verify-rebuild", "-f", r.File, "--store", r.Store, "-j", strconv.Itoa(r.Jobs), "--progress", "plain",
			"--source-date-epoch", epoch, "--locked=false"}
		args = append(args, common...)
		if r.Umask != "" {
			args = append(args, "--umask", r.Umask)
		}
		if r.Hostname != "" {
			args = append(args, "--hostname", r.Hostname)
		}
		if r.Shuffle {
			args = append(args, "--shuffle")
		}
		return append(args, targets...)
	}, nil
}

// newVerifyRebuildCmd is the child kiln verify starts for each rebuild: a
// build without exports that first applies to itself the variations only
// a process can set on itself.
func newVerifyRebuildCmd(g *globals) *cobra.Command {
	var f buildFlags
	var r repro.Rebuild
	cmd := &cobra.Command{
		Use:               "verify-rebuild [TARGET...]",
		ValidArgsFunction: completeTargets(g, 0),
		Short:             "One rebuild of kiln verify (started by kiln verify)",
		Hidden:            true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := r.ApplyToSelf(); err != nil {
				fmt.Fprintf(os.Stderr, "kiln verify: %v\n", err)
			}
			f.shuffle = r.Shuffle
			// A rebuild is from nothing: no cache answers for it.
			f.ignoreCaches = true
			rd, err := newBuildRenderer(g, true)
			if err != nil {
				return err
			}
			s, err := g.open(rd, &f)
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = build(cmd.Context(), s, args)
			return err
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&f.jobs, "jobs", "j", runtime.NumCPU(), "derivations built at once")
	fl.BoolVar(&f.locked, "locked", false, "refuse to build when build.lock.hcl is incomplete or stale")
	fl.StringArrayVar(&f.secrets, "secret", nil, "a secret for secret mounts: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
	fl.BoolVar(&f.allowInsecure, "allow-insecure", false, allowInsecureUsage)
	fl.StringVar(&r.Umask, "umask", "", "set this octal umask first")
	fl.StringVar(&r.Hostname, "hostname", "", "set this hostname first (in a new UTS namespace)")
	fl.BoolVar(&r.Shuffle, "shuffle", false, "start independent steps in a random order")
	buildKitFlags(cmd, &f)
	return cmd
}

func printVerifyEvent(e repro.Event) {
	switch e := e.(type) {
	case repro.Keeping:
		fmt.Fprintf(os.Stderr, "kiln verify: keeping the rebuilds' stores under %s\n", e.Dir)
	case repro.RoundStarted:
		label := repro.Join(e.Vary, ", ")
		if label == "" {
			label = "no variation"
		}
		fmt.Printf("round %d (%s): rebuilding %d derivations\n", e.Round, label, e.Derivations)
	case repro.RoundIdentical:
		fmt.Printf("round %d: all %d derivations identical\n", e.Round, e.Derivations)
	case repro.Isolating:
		label := "no variation (a plain rebuild)"
		if len(e.Vary) > 0 {
			label = string(e.Vary[0]) + " alone"
		}
		fmt.Printf("isolating: rebuilding with %s\n", label)
	}
}

// printVerifyReport prints each mismatch with what differs inside its
// output.
func printVerifyReport(w io.Writer, rep *repro.Report, firstLabel string) {
	fmt.Fprintf(w, "round %d: %d of %d derivations differ; %d step(s) are not reproducible themselves\n", rep.Round, len(rep.Mismatches), rep.Derivations, rep.Causes())
	for _, m := range rep.Mismatches {
		if len(m.Through) > 0 {
			fmt.Fprintf(w, "\n%s (%s): differs only through its input %s\n", m.Name, m.Derivation, strings.Join(m.Through, ", "))
			continue
		}
		fmt.Fprintf(w, "\nMISMATCH %s (%s)\n", m.Name, m.Derivation)
		if m.Description != "" {
			fmt.Fprintf(w, "  step: %s\n", m.Description)
		}
		fmt.Fprintf(w, "  %-12s output %s\n  %-12s output %s\n", firstLabel+":", realize.OutputID(m.First), "rebuild:", realize.OutputID(m.Rebuild))
		if m.Exposure != nil {
			fmt.Fprintf(w, "  exposed by: %s\n", exposure(*m.Exposure))
		}
		if !slices.Equal(m.First.Blobs, m.Rebuild.Blobs) {
			fmt.Fprintf(w, "  blobs %v -> %v\n", m.First.Blobs, m.Rebuild.Blobs)
		}
		if len(m.First.Layers) != len(m.Rebuild.Layers) {
			fmt.Fprintf(w, "  layers: %d -> %d\n", len(m.First.Layers), len(m.Rebuild.Layers))
		}
		for _, l := range m.Layers {
			fmt.Fprintf(w, "  layer %d: %s -> %s\n", l.Index, l.First, l.Rebuild)
			for _, line := range l.Diff {
				fmt.Fprintln(w, "    "+relabel(line, firstLabel))
			}
		}
	}
	fmt.Fprintln(w)
}

// relabel names the side repro's diff calls the first build as the report
// does (the cache, for --against-cache).
func relabel(line, label string) string {
	body := strings.TrimLeft(line, " ")
	indent := line[:len(line)-len(body)]
	if rest, ok := strings.CutPrefix(body, "--- first build"); ok {
		return indent + "--- " + label + rest
	}
	if rest, ok := strings.CutPrefix(body, "first build: "); ok {
		return indent + fmt.Sprintf("%-13s", label+":") + rest
	}
	return line
}

func exposure(e repro.Exposure) string {
	switch {
	case e.Plain:
		return "any rebuild: the step differs on a plain rebuild, without any variation"
	case len(e.By) == 1:
		return string(e.By[0])
	}
	return "only the variations together (" + repro.Join(e.By, ", ") + ")"
}

// kilnExecutable is the kiln to re-run: the one on PATH under the name this
// process was started as, so that test harnesses that dispatch on the
// program name work, else this process's executable.
func kilnExecutable() (string, error) {
	if a := os.Args[0]; a != "" {
		if p, err := exec.LookPath(a); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				return abs, nil
			}
		}
	}
	return os.Executable()
}

func absSecret(spec string) string {
	parts := strings.Split(spec, ",")
	for i, p := range parts {
		if v, ok := strings.CutPrefix(p, "src="); ok {
			if abs, err := filepath.Abs(v); err == nil {
				parts[i] = "src=" + abs
			}
		}
	}
	return strings.Join(parts, ",")
}
