package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/sign"
)

type buildFlags struct {
	outputs []string
	// attest are buildx's --attest specs.
	attest    []string
	metadata  string
	force     bool
	jobs      int
	keepGoing bool
	locked    bool
	secrets   []string
	// ssh are --ssh specs: ID or ID=SOCKET, as buildx's.
	ssh []string
	// noCache, noCacheFilter and platforms are buildx's --no-cache,
	// --no-cache-filter and --platform.
	noCache       bool
	noCacheFilter []string
	platforms     []string
	// allowInsecure is --allow-insecure, BuildKit's --allow
	// security.insecure: steps with security = "insecure" may run.
	allowInsecure bool
	// requireLimits is --require-limits.
	requireLimits bool
	// shuffle starts independent steps in a random order: set only in
	// kiln verify's rebuilds.
	shuffle bool
	// cacheFrom and cacheTo are buildx's --cache-from and --cache-to.
	cacheFrom []string
	cacheTo   []string
	// noGC is --no-gc: no automatic garbage collection in this command.
	noGC bool
	// ignoreCaches ignores every cache setting: set only by kiln verify's
	// rebuilds, which are from nothing.
	ignoreCaches bool
	// buildkit are --buildkit addresses; buildkitFallback is
	// --buildkit-fallback ("" or "local").
	buildkit         []string
	buildkitFallback string
	buildkitTLSDir   string
	// sign is --sign key=FILE: sign the images pushed to registries.
	sign string
}

const allowInsecureUsage = `run steps that have security = "insecure" (every capability, no seccomp filter); only for build files you trust`

func newBuildCmd(g *globals) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:               "build [TARGET...]",
		ValidArgsFunction: completeTargets(g, 0),
		Short:             "Realize targets: build every derivation the store does not have",
		Long: `build compiles build.hcl for the named targets (default: the default
targets), realizes every derivation missing from the store, running exec
steps in sandboxes, and prints each target's state and where it is stored.
A build never changes build.lock.hcl: a source without a pin is an error
that says to run 'kiln lock'.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The key is read, and its password asked, before anything is
			// built: a wrong key fails in a second, not after the build.
			key, err := signKey(f.sign)
			if err != nil {
				return err
			}
			r, err := newBuildRenderer(g, true)
			if err != nil {
				return err
			}
			s, err := g.openBuild(r, &f)
			if err != nil {
				return err
			}
			defer func() { s.Close(); r.mark("close") }()
			eo := engine.ExportOptions{Specs: f.outputs, Force: f.force, Attest: f.attest, Sign: key}
			built, err := build(cmd.Context(), s, args, engine.CheckingExports(eo))
			if err != nil {
				return err
			}
			mds, err := s.Export(cmd.Context(), built, eo)
			if err != nil {
				return err
			}
			if f.metadata != "" {
				if err := engine.WriteMetadata(f.metadata, mds); err != nil {
					return fmt.Errorf("writing --metadata-file: %w", err)
				}
			}
			if err := s.ExportCache(cmd.Context(), built); err != nil {
				return err
			}
			// A tar written to stdout (dest=-) must stay a tar: the summary
			// then goes to stderr.
			w := io.Writer(os.Stdout)
			if engine.WritesStdout(built, f.outputs) {
				w = os.Stderr
			}
			for _, t := range built.Graph.Targets {
				for _, pl := range t.Platforms {
					s := t.States[pl]
					if s == "" {
						fmt.Fprintf(w, "%s (%s): empty state\n", t.Address, pl)
						continue
					}
					out := built.Outputs[s]
					fmt.Fprintf(w, "%s (%s): %s\n", t.Address, pl, s)
					fmt.Fprintf(w, "  output %s, %d layers", realize.OutputID(out), len(out.Layers))
					if n := len(out.Layers); n > 0 {
						fmt.Fprintf(w, ", top %s", built.Store.LayerPath(out.Layers[n-1]))
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
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "export the targets: type=oci|docker|registry|local|tar,dest=...,name=... as in BuildKit; TARGET=SPEC exports only TARGET, as bake's --set TARGET.output (repeatable)")
	fl.StringArrayVar(&f.attest, "attest", nil, "attach an attestation to the exported images: type=provenance[,mode=min|max] or type=sbom, with referrers=true for an OCI 1.1 subject, disabled=true to drop an image block's (repeatable, as buildx)")
	fl.StringVar(&f.metadata, "metadata-file", "", "write the exports' digests as JSON (BuildKit's keys; every export of a target under kiln.exports)")
	fl.BoolVar(&f.force, "force", false, "replace existing output destinations (same as force=true in --output)")
	fl.IntVarP(&f.jobs, "jobs", "j", runtime.NumCPU(), "derivations built at once")
	fl.BoolVar(&f.keepGoing, "keep-going", false, "build everything not depending on a failure instead of stopping at the first")
	fl.BoolVar(&f.locked, "locked", os.Getenv("CI") != "", "refuse to build when build.lock.hcl is incomplete or stale (default when CI is set)")
	fl.StringArrayVar(&f.secrets, "secret", nil, "a secret for secret mounts: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
	fl.BoolVar(&f.allowInsecure, "allow-insecure", false, allowInsecureUsage)
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "import outputs from a cache: type=registry,ref=REF,trusted=PUBFILE or type=local,src=DIR (insecure=true: unsigned; required=true) (repeatable; else $KILN_CACHE_FROM, else the build file's cache_from)")
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil, "export outputs to a cache: type=registry,ref=REF or type=local,dest=DIR, with mode=min|max, key=FILE, required=true (repeatable; else $KILN_CACHE_TO, else the build file's cache_to)")
	fl.StringArrayVar(&f.ssh, "ssh", nil, "forward an SSH agent to ssh mounts: ID (the agent of $SSH_AUTH_SOCK) or ID=SOCKET, as buildx's --ssh default (repeatable)")
	fl.BoolVar(&f.noCache, "no-cache", false, "build again every step the targets need, replacing the stored outputs (sources, pinned by hash, are not fetched again)")
	fl.StringArrayVar(&f.noCacheFilter, "no-cache-filter", nil, "build again the steps of this stage (NAME or stage.NAME); what depends on them is rebuilt only if their outputs change (repeatable)")
	fl.StringSliceVar(&f.platforms, "platform", nil, "build the targets for these platforms (os/arch[/variant], comma-separated or repeated) instead of their declared ones")
	fl.BoolVar(&f.requireLimits, "require-limits", false, "fail instead of warning when steps' memory and pids limits cannot be enforced (a normal user without delegated cgroups)")
	fl.StringArrayVar(&f.buildkit, "buildkit", nil, "run exec steps on buildkitd at ADDR (unix://, tcp://, docker-container://, kube-pod://) instead of the local sandbox; repeatable: each step goes to the least-loaded daemon (also $KILN_BUILDKIT_HOST)")
	fl.StringVar(&f.buildkitFallback, "buildkit-fallback", "", "where steps run once no buildkitd is left: local (default: the build fails)")
	fl.StringVar(&f.buildkitTLSDir, "buildkit-tlsdir", "", "ca.pem, cert.pem and key.pem for tcp:// buildkitd addresses, as buildctl --tlsdir")
	fl.StringVar(&f.sign, "sign", "", "sign every image pushed to a registry as cosign does: key=FILE, cosign's cosign.key (password in COSIGN_PASSWORD) or a PEM EC key")
	fl.BoolVar(&f.noGC, "no-gc", false, "no automatic garbage collection in this command, however full the store (also KILN_GC=off)")
}

// signKey reads --sign key=FILE ("" : no signing).
func signKey(spec string) (*sign.Key, error) {
	if spec == "" {
		return nil, nil
	}
	file := ""
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "key":
			file = v
		default:
			return nil, usageErrorf("--sign %q: unknown key %q (known: key=FILE)", spec, k)
		}
	}
	if file == "" {
		return nil, usageErrorf("--sign %q: want key=FILE", spec)
	}
	return loadSigningKey(file)
}

// build runs s.Build, interruptible.
func build(ctx context.Context, s *engine.Session, targets []string, opts ...engine.BuildOption) (*engine.Result, error) {
	ctx, stop := interruptible(ctx)
	defer stop()
	return s.Build(ctx, targets, opts...)
}

// interruptible makes Ctrl-C and SIGTERM cancel ctx instead of killing
// kiln, so that the engine stops the running steps and keeps nothing
// half-built.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
