package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/lockfile"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

func init() { subcommands = append(subcommands, newBuildCmd) }

type buildFlags struct {
	outputs   []string
	metadata  string
	force     bool
	jobs      int
	keepGoing bool
	locked    bool
	secrets   []string
	// allowInsecure is --allow-insecure, BuildKit's --allow
	// security.insecure: steps with security = "insecure" may run.
	allowInsecure bool
	// shuffle starts independent steps in a random order: set only in a
	// kiln verify rebuild with the order variation.
	shuffle bool
}

const allowInsecureUsage = `run steps that have security = "insecure" (every capability, no seccomp filter); only for build files you trust`

func newBuildCmd(g *globals) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [TARGET...]",
		Short: "Realize targets: build every derivation the store does not have",
		Long: `build compiles build.hcl for the named targets (default: the default
targets), realizes every derivation missing from the store, running exec
steps in sandboxes, and prints each target's state and where it is stored.
A build never changes build.lock.hcl: a source without a pin is an error
that says to run 'kiln lock'.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := runBuild(cmd.Context(), g, f, args)
			if err != nil {
				return err
			}
			defer func() { res.st.Close(); res.phases.mark("close") }()
			mds, err := exportTargets(cmd.Context(), res, f.outputs, f.force)
			if err != nil {
				return err
			}
			if f.metadata != "" {
				if err := writeMetadata(f.metadata, mds); err != nil {
					return fmt.Errorf("writing --metadata-file: %w", err)
				}
			}
			// A tar written to stdout (dest=-) must stay a tar: the summary
			// then goes to stderr.
			w := io.Writer(os.Stdout)
			if writesStdout(res, f.outputs) {
				w = os.Stderr
			}
			for _, t := range res.graph.Targets {
				for _, pl := range t.Platforms {
					s := t.States[pl]
					if s == "" {
						fmt.Fprintf(w, "%s (%s): empty state\n", t.Address, pl)
						continue
					}
					out := res.outs[s]
					fmt.Fprintf(w, "%s (%s): %s\n", t.Address, pl, s)
					fmt.Fprintf(w, "  output %s, %d layers", realize.OutputID(out), len(out.Layers))
					if n := len(out.Layers); n > 0 {
						fmt.Fprintf(w, ", top %s", res.st.LayerPath(out.Layers[n-1]))
					}
					fmt.Fprintln(w)
				}
			}
			return nil
		},
	}
	addBuildFlags(cmd, &f)
	return cmd
}

func addBuildFlags(cmd *cobra.Command, f *buildFlags) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "export the target: type=oci|docker|registry|local|tar,dest=...,name=... as in BuildKit (repeatable)")
	fl.StringVar(&f.metadata, "metadata-file", "", "write the exports' digests as JSON (BuildKit's keys)")
	fl.BoolVar(&f.force, "force", false, "replace existing output destinations (same as force=true in --output)")
	fl.IntVarP(&f.jobs, "jobs", "j", runtime.NumCPU(), "derivations built at once")
	fl.BoolVar(&f.keepGoing, "keep-going", false, "build everything not depending on a failure instead of stopping at the first")
	fl.BoolVar(&f.locked, "locked", os.Getenv("CI") != "", "refuse to build when build.lock.hcl is incomplete or stale (default when CI is set)")
	fl.StringArrayVar(&f.secrets, "secret", nil, "a secret for secret mounts: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
	fl.BoolVar(&f.allowInsecure, "allow-insecure", false, allowInsecureUsage)
}

type buildResult struct {
	st     *store.Store
	graph  *compiler.Graph
	proj   *project
	outs   map[digest.Digest]store.Output
	phases *phases
}

// runBuild loads, compiles and realizes; the caller closes res.st.
func runBuild(ctx context.Context, g *globals, f buildFlags, targets []string) (*buildResult, error) {
	ph := newPhases()
	p, err := loadProject(g)
	if err != nil {
		return nil, err
	}
	ph.mark("load")
	secrets, err := parseSecrets(f.secrets)
	if err != nil {
		return nil, err
	}
	st, err := openStore(g)
	if err != nil {
		return nil, err
	}
	ph.mark("open store")
	graph, err := p.compile(g, targets, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	ph.mark("compile")
	if f.locked {
		if err := checkLocked(p, graph); err != nil {
			st.Close()
			return nil, err
		}
	}
	roots := compiler.TargetRoots(graph.Targets)
	prog, err := newProgress(g.progress, os.Stderr, len(graph.Closure(roots...)))
	if err != nil {
		st.Close()
		return nil, err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := realize.New(st, realize.Options{
		Jobs:      f.jobs,
		KeepGoing: f.keepGoing,
		Events:    prog.Event,
		Dir:       p.cfg.Dir,
		Secrets:   secrets,
		Shuffle:   f.shuffle,

		AllowInsecure: f.allowInsecure,
	})
	outs, err := r.Realize(ctx, graph, roots)
	prog.Close()
	ph.mark("realize")
	if err != nil {
		st.Close()
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted: running steps were stopped and nothing half-built was kept")
		}
		return nil, err
	}
	// Each target's last build is a GC root. A no-op build leaves the roots
	// as they are without writing: writing would cost the index a sync.
	existing, err := st.Roots()
	if err != nil {
		st.Close()
		return nil, err
	}
	for _, t := range graph.Targets {
		var ds []digest.Digest
		for _, pl := range t.Platforms {
			if s := t.States[pl]; s != "" {
				ds = append(ds, s)
			}
		}
		name := "last-build:" + p.cfg.Dir + ":" + t.Address
		if slices.Equal(existing[name], ds) {
			continue
		}
		if err := st.AddRoot(name, ds...); err != nil {
			st.Close()
			return nil, err
		}
	}
	ph.mark("roots")
	return &buildResult{st: st, graph: graph, proj: p, outs: outs, phases: ph}, nil
}

// checkLocked refuses a build whose lock does not pin everything it needs.
func checkLocked(p *project, graph *compiler.Graph) error {
	var missing []string
	for _, d := range graph.Closure(compiler.TargetRoots(graph.Targets)...) {
		n := graph.Nodes[d]
		if n.Unresolved && (n.Kind == compiler.KindSource || n.Exec != nil) {
			missing = append(missing, n.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--locked: build.lock.hcl does not pin %s; run 'kiln lock' and commit build.lock.hcl", strings.Join(dedupe(missing), ", "))
	}
	// A lock that pins everything needed can still be stale elsewhere:
	// entries for inputs build.hcl dropped or changed. CI must see that.
	if changes := lockfile.Check(p.cfg, p.lock); len(changes) > 0 {
		lines := make([]string, len(changes))
		for i, c := range changes {
			lines[i] = "  " + c.String()
		}
		return fmt.Errorf("--locked: build.lock.hcl does not match %s:\n%s\nrun 'kiln lock' and commit build.lock.hcl", p.cfg.Filename, strings.Join(lines, "\n"))
	}
	return nil
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func parseSecrets(specs []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, s := range specs {
		kv := map[string]string{}
		for _, part := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(part, "=")
			if !ok {
				return nil, usageErrorf("--secret %q: want id=ID,src=FILE or id=ID,env=VAR", s)
			}
			kv[k] = v
		}
		id := kv["id"]
		if id == "" {
			return nil, usageErrorf("--secret %q: missing id=", s)
		}
		switch {
		case kv["src"] != "":
			b, err := os.ReadFile(kv["src"])
			if err != nil {
				return nil, fmt.Errorf("reading secret %q: %w", id, err)
			}
			out[id] = b
		case kv["env"] != "":
			v, ok := os.LookupEnv(kv["env"])
			if !ok {
				return nil, fmt.Errorf("secret %q: environment variable %s is not set", id, kv["env"])
			}
			out[id] = []byte(v)
		default:
			return nil, usageErrorf("--secret %q: give src=FILE or env=VAR", s)
		}
		if v := bytes.TrimSpace(out[id]); len(v) > 0 && len(v) < realize.MinRedactLen {
			fmt.Fprintf(os.Stderr, "kiln: warning: secret %q is shorter than %d bytes, so step output is not redacted for it\n", id, realize.MinRedactLen)
		}
	}
	return out, nil
}
