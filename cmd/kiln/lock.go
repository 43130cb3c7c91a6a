package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/lockfile"
	"github.com/kiln-build/kiln/lockfile/resolve"
	"github.com/kiln-build/kiln/realize"
)

func init() { subcommands = append(subcommands, newLockCmd) }

func newLockCmd(g *globals) *cobra.Command {
	var update, check, merge, allowInsecure bool
	var jobs int
	cmd := &cobra.Command{
		Use:   "lock [--update [INPUT...]] [--check] [--merge BASE OURS THEIRS]",
		Short: "Pin every external input of build.hcl in build.lock.hcl",
		Long: `lock resolves every input that build.lock.hcl lacks or whose request
(tag, branch, URL, path) changed, removes entries no longer in build.hcl, and
never moves an entry that still matches. It prints one line per change,
ready for a commit message.

  --update [INPUT...]  re-resolve the named inputs (all without names)
  --check              change nothing; exit 1 with the differences when the
                       lock does not match build.hcl (for CI)
  --merge O A B        git merge driver: union of both sides' blocks, written
                       to A (see docs/lockfile.md for the .gitattributes line)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if merge {
				if len(args) != 3 {
					return usageErrorf("--merge takes BASE OURS THEIRS (git's %%O %%A %%B)")
				}
				return lockfile.MergeFiles(args[0], args[1], args[2])
			}
			if !update && len(args) > 0 {
				return usageErrorf("inputs are named only with --update")
			}
			p, err := loadProjectLock(g, true)
			if err != nil {
				return err
			}
			if check {
				return lockCheck(p)
			}
			return lockUpdate(cmd.Context(), g, p, update, args, jobs, allowInsecure)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&update, "update", false, "re-resolve the named inputs, or all of them")
	fl.BoolVar(&check, "check", false, "exit 1 with a diff when the lock does not match build.hcl; change nothing")
	fl.BoolVar(&merge, "merge", false, "act as git's merge driver: kiln lock --merge %O %A %B")
	fl.IntVarP(&jobs, "jobs", "j", 8, "inputs resolved at once")
	fl.BoolVar(&allowInsecure, "allow-insecure", false, allowInsecureUsage)
	return cmd
}

func lockCheck(p *project) error {
	if p.lockErr != nil {
		return &exitError{code: 1, err: fmt.Errorf("%w\nrun 'kiln lock' to rewrite it", p.lockErr)}
	}
	changes := lockfile.Check(p.cfg, p.lock)
	for _, c := range changes {
		fmt.Println(c.String())
	}
	if len(changes) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%s does not match %s (%d difference(s)): run 'kiln lock' and commit the result", p.lockPath, p.cfg.Filename, len(changes))}
	}
	return nil
}

func lockUpdate(ctx context.Context, g *globals, p *project, update bool, only []string, jobs int, allowInsecure bool) error {
	old := p.lock
	if old == nil {
		old = lockfile.New()
	}
	opts := resolve.UpdateOptions{
		Only: only,
		All:  update && len(only) == 0,
		Jobs: jobs,
		Progress: func(addr, state string) {
			if g.progress == "plain" || g.progress == "auto" && !isTerminal(os.Stderr) {
				return
			}
			if state == resolve.StateResolving {
				fmt.Fprintf(os.Stderr, "resolving %s\n", addr)
			}
		},
		BuildFixedOutput: func(ctx context.Context, address string, pins *lockfile.Lock) (string, error) {
			return learnFixedOutput(ctx, g, p, address, pins, allowInsecure)
		},
		Resolvers: map[string]resolve.Resolver{"deb": resolve.DebResolver(resolve.DebOptions{CacheDir: debCacheDir()})},
	}
	known := map[string]bool{}
	var names []string
	for _, in := range lockfile.Inputs(p.cfg) {
		known[in.Address] = true
		names = append(names, in.Address)
	}
	for _, a := range only {
		if !known[a] {
			return usageErrorf("%s is not a lockable input of %s; inputs are: %s", a, p.cfg.Filename, strings.Join(names, ", "))
		}
	}
	lock, changes, err := resolve.Update(ctx, p.cfg, old, opts)
	if err != nil {
		return err
	}
	newBytes := lock.Bytes()
	cur, _ := os.ReadFile(p.lockPath)
	if !bytes.Equal(cur, newBytes) {
		if err := lockfile.WriteFile(p.lockPath, lock); err != nil {
			return err
		}
	}
	for _, c := range changes {
		fmt.Println(c.String())
	}
	return nil
}

// learnFixedOutput builds a fixed-output step once, with network, and
// returns the hash of what it produced: the value the lock pins. pins are
// the inputs resolved so far in this kiln lock (the step builds on them).
func learnFixedOutput(ctx context.Context, g *globals, p *project, address string, pins *lockfile.Lock, allowInsecure bool) (string, error) {
	stage, _, ok := strings.Cut(strings.TrimPrefix(address, "stage."), ".run[")
	if !ok {
		return "", fmt.Errorf("%s is not a run step address", address)
	}
	st, err := openStore(g)
	if err != nil {
		return "", err
	}
	defer st.Close()
	graph, diags := compiler.Compile(p.cfg, []string{"stage." + stage}, compiler.Options{
		Pins:              pins,
		SourceDateEpoch:   p.epoch,
		LearnFixedOutputs: true,
		LocalHash:         localHasher(st),
	})
	if diags.HasErrors() {
		printDiags(g, p.loader.Files(), diags)
		return "", errReported
	}
	for _, d := range graph.Order {
		n := graph.Nodes[d]
		if n.LockAddress != address {
			continue
		}
		prog, err := newProgress(g.progress, os.Stderr, len(graph.Closure(d)))
		if err != nil {
			return "", err
		}
		r := realize.New(st, realize.Options{Jobs: runtime.NumCPU(), Events: prog.Event, Dir: p.cfg.Dir, AllowInsecure: allowInsecure})
		outs, err := r.Realize(ctx, graph, []digest.Digest{d})
		prog.Close()
		if err != nil {
			return "", err
		}
		out := outs[d]
		var root int
		if n.Exec.Root >= 0 {
			root = len(outs[n.Inputs[n.Exec.Root]].Layers)
		}
		if len(out.Layers) <= root {
			return "", fmt.Errorf("%s produced no files: a fixed-output step must write its result", address)
		}
		return string(out.Layers[len(out.Layers)-1]), nil
	}
	return "", fmt.Errorf("%s is not a fixed-output run step of build.hcl", address)
}

// debCacheDir keeps Debian Packages indexes between kiln lock runs, by
// sha256; empty (no cache) when the user has no cache directory.
func debCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "kiln", "deb")
}
