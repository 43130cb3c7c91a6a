package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
)

// globals are the flags every command shares.
type globals struct {
	file     string // path of build.hcl
	store    string
	vars     []string
	varFiles []string
	epoch    string
	progress string
	noColor  bool
}

// defaultBuildFile is the build file kiln looks for when -f is not given.
const defaultBuildFile = engine.DefaultFile

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "kiln",
		Short:         "Build build.hcl into reproducible, content-addressed outputs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentPreRunE = enterRootless(g, runArgs)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	pf := root.PersistentFlags()
	pf.StringVarP(&g.file, "file", "f", defaultBuildFile, "the build file")
	pf.StringVar(&g.store, "store", "", "the store's root (default $KILN_STORE, /var/lib/kiln as root, else $XDG_DATA_HOME/kiln)")
	pf.StringArrayVar(&g.vars, "var", nil, "set a variable, NAME=VALUE (repeatable)")
	pf.StringArrayVar(&g.varFiles, "var-file", nil, "read variables from a .kilnvars.hcl file (repeatable)")
	pf.StringVar(&g.epoch, "source-date-epoch", "", "SOURCE_DATE_EPOCH when build.hcl does not set it")
	pf.StringVar(&g.progress, "progress", "auto", "progress output: auto, tty, plain, json or quiet (none)")
	pf.BoolVar(&g.noColor, "no-color", false, "never colour diagnostics")
	for _, f := range []func(*globals) *cobra.Command{
		newBuildCmd,
		newPlanCmd,
		newLockCmd,
		newGoldenCmd,
		newVerifyCmd,
		newVerifyRebuildCmd,
		newShowCmd,
		newGraphCmd,
		newLogCmd,
		newStoreCmd,
		newCacheCmd,
		newFmtCmd,
		newVersionCmd,
		newImportCmd,
		newLLBCmd,
		newProvenanceCmd,
		newSBOMCmd,
		newSignCmd,
	} {
		root.AddCommand(f(g))
	}
	usageArgs(root)
	return root
}

// options are the session options the global flags give; the caller adds
// the build flags and the event sink.
func (g *globals) options() (engine.Options, error) {
	vars := map[string]string{}
	for _, kv := range g.vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return engine.Options{}, usageErrorf("--var %q: want NAME=VALUE", kv)
		}
		vars[k] = v
	}
	return engine.Options{
		File:            g.file,
		Vars:            vars,
		VarFiles:        g.varFiles,
		Environ:         os.Environ(),
		SourceDateEpoch: g.epoch,
		StoreRoot:       g.store,
		BuilderVersion:  kilnVersion(),
		// Every command ends with its session.
		ShortLived: true,
	}, nil
}

// open starts a session as the flags say, its events rendered by r.
func (g *globals) open(r *renderer, f *buildFlags) (*engine.Session, error) {
	return g.openWith(r, f, false)
}

// openBuild is open for kiln build, which opens the store whatever it
// builds: it starts opening the store while the build file is read.
func (g *globals) openBuild(r *renderer, f *buildFlags) (*engine.Session, error) {
	return g.openWith(r, f, true)
}

func (g *globals) openWith(r *renderer, f *buildFlags, storeEarly bool) (*engine.Session, error) {
	opts, err := g.options()
	if err != nil {
		return nil, err
	}
	opts.OpenStoreEarly = storeEarly
	if f != nil {
		opts.Jobs, opts.KeepGoing, opts.Locked = f.jobs, f.keepGoing, f.locked
		opts.Secrets, opts.AllowInsecure = f.secrets, f.allowInsecure
		opts.RequireLimits = f.requireLimits
		opts.Shuffle, opts.NoGC = f.shuffle, f.noGC
		opts.CacheFrom, opts.CacheTo = f.cacheFrom, f.cacheTo
		opts.IgnoreCaches = f.ignoreCaches
		opts.SSH = f.ssh
		opts.NoCache, opts.NoCacheFilter, opts.Platforms = f.noCache, f.noCacheFilter, f.platforms
		switch f.buildkitFallback {
		case "":
		case "local":
			opts.BuildKitFallbackLocal = true
		default:
			return nil, usageErrorf("--buildkit-fallback %q: the only fallback is local", f.buildkitFallback)
		}
		opts.BuildKit, opts.BuildKitTLSDir = f.buildkit, f.buildkitTLSDir
	}
	opts.Events = r.event
	return engine.Open(opts)
}

// usageArgs makes wrong positional arguments and unknown commands exit 2,
// like flag errors: they are the caller's mistake, not a build failure.
func usageArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageErrorf("%v\nRun '%s --help' for usage.", err, cmd.CommandPath())
			}
			return nil
		}
	}
	if c.HasSubCommands() && c.RunE == nil && c.Run == nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q\nRun '%s --help' for usage.", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return usageErrorf("%s needs a subcommand\nRun '%s --help' for usage.", cmd.CommandPath(), cmd.CommandPath())
		}
		if c.Args == nil {
			c.Args = cobra.ArbitraryArgs
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}
