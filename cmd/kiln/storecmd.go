package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

// openStore opens the store of --store, saying so when another kiln holds
// it.
func openStore(g *globals) (*store.Store, error) {
	return engine.OpenStore(engine.StoreRoot(g.store), newRenderer(g, false).event, store.WithShortLived())
}

func newStoreCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Inspect and maintain the store: du, ls, gc, verify, config, path",
	}
	cmd.AddCommand(
		newStorePathCmd(g),
		newStoreDuCmd(g),
		newStoreConfigCmd(g),
		newStoreLsCmd(g),
		newStoreGCCmd(g),
		newStoreVerifyCmd(g),
	)
	return cmd
}

// newStorePathCmd is kiln store path.
func newStorePathCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "path",
		Short: "Print the store's root directory",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Println(engine.StoreRoot(g.store))
		},
	}
}

// newStoreDuCmd is kiln store du: usage by kind, the GC budget and what
// automatic GC would remove.
func newStoreDuCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "du",
		Short: "Show how much space the store uses, by kind",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(g)
			if err != nil {
				return err
			}
			defer st.Close()
			u, err := st.Usage()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(tw, "kind\tcount\tsize\t\n")
			for _, k := range []struct {
				name string
				u    store.KindUsage
			}{{"derivations", u.Derivations}, {"layers", u.Layers}, {"blobs", u.Blobs}, {"logs", u.Logs}, {"temporary", u.Temp}} {
				fmt.Fprintf(tw, "%s\t%d\t%s\t\n", k.name, k.u.Count, units.HumanSize(float64(k.u.Bytes)))
			}
			fmt.Fprintf(tw, "index\t\t%s\t\n", units.HumanSize(float64(u.IndexBytes)))
			fmt.Fprintf(tw, "total\t\t%s\t\n", units.HumanSize(float64(u.Total())))
			if err := tw.Flush(); err != nil {
				return err
			}
			return printBudget(st)
		},
	}
}

// newStoreLsCmd is kiln store ls.
func newStoreLsCmd(g *globals) *cobra.Command {
	var kind string
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List derivations, layers or blobs in the store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains([]string{"derivations", "layers", "blobs"}, kind) {
				return usageErrorf("--kind %q: want derivations, layers or blobs", kind)
			}
			st, err := openStore(g)
			if err != nil {
				return err
			}
			defer st.Close()
			ents, err := st.List(kind)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tDIGEST\tSIZE\tLAST USE\tROOTS\tORIGIN")
			for _, e := range ents {
				last := "-"
				if !e.LastUse.IsZero() {
					last = units.HumanDuration(time.Since(e.LastUse)) + " ago"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Kind, e.Digest, units.HumanSize(float64(e.Size)), last, strings.Join(e.Roots, ","), origin(e))
			}
			return tw.Flush()
		},
	}
	ls.Flags().StringVar(&kind, "kind", "derivations", "what to list: derivations, layers or blobs")
	return ls
}

// newStoreGCCmd is kiln store gc.
func newStoreGCCmd(g *globals) *cobra.Command {
	var keep time.Duration
	var keepBytes string
	var all bool
	gc := &cobra.Command{
		Use:   "gc",
		Short: "Remove what no root and no recent build needs",
		Long: `gc removes store objects that no GC root references (each target's last
build is a root), keeping those used within --keep-duration, then removing
the least recently used until the store is under --keep-bytes (like
BuildKit's gcpolicy). --all removes everything that no root references.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := store.GCPolicy{KeepDuration: keep, All: all}
			if keepBytes != "" {
				n, err := units.RAMInBytes(keepBytes)
				if err != nil {
					return usageErrorf("--keep-bytes %q: %v", keepBytes, err)
				}
				p.KeepBytes = n
			}
			st, err := openStore(g)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := st.GC(p)
			if err != nil {
				return err
			}
			fmt.Printf("removed %d derivations, %d layers, %d blobs, %d logs, %d orphans: %s freed, %s kept\n",
				rep.Derivations, rep.Layers, rep.Blobs, rep.Logs, rep.Orphans, units.HumanSize(float64(rep.BytesFreed)), units.HumanSize(float64(rep.BytesKept)))
			return nil
		},
	}
	gc.Flags().DurationVar(&keep, "keep-duration", 48*time.Hour, "keep unreferenced objects used more recently than this")
	gc.Flags().StringVar(&keepBytes, "keep-bytes", "", "then remove least recently used objects until the store is at most this size (e.g. 10GB)")
	gc.Flags().BoolVar(&all, "all", false, "remove every object no root references")
	return gc
}

// newStoreVerifyCmd is kiln store verify [--repair].
func newStoreVerifyCmd(g *globals) *cobra.Command {
	var repair bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Rehash every object and check the index against the disk",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(g)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := engine.VerifyStore(st, repair)
			if err != nil {
				return err
			}
			fmt.Printf("checked %d derivations, %d layers, %d blobs\n", rep.Derivations, rep.Layers, rep.Blobs)
			for _, p := range rep.Problems {
				fmt.Println("problem:", p.String())
			}
			for _, o := range rep.Orphans {
				fmt.Println("orphan (harmless, left by an interrupted add):", o)
			}
			for _, o := range rep.Stale {
				fmt.Println("stale temporary entry:", o)
			}
			for _, m := range rep.Unmounted {
				fmt.Println("stale mount (left by a killed kiln, now unmounted):", m)
			}
			if err := verifySandboxes(st, repair); err != nil {
				return err
			}
			switch {
			case rep.Repaired:
				fmt.Println("repaired: the store is consistent")
			case rep.Consistent():
				fmt.Println("the store is consistent")
			}
			if !rep.Consistent() && !repair {
				return &exitError{code: 1, err: fmt.Errorf("the store has problems: run 'kiln store verify --repair' to fix them")}
			}
			return nil
		},
	}
	verify.Flags().BoolVar(&repair, "repair", false, "drop index entries of missing or corrupt objects and remove unindexed ones")
	return verify
}

// verifySandboxes reports the cgroups that steps of killed kilns left
// and, with repair, removes them along with what killed sandboxes left in
// this store.
func verifySandboxes(st *store.Store, repair bool) error {
	stale, removed, err := engine.StaleSandboxes(st, repair)
	for _, c := range stale {
		if removed {
			fmt.Printf("stale cgroup of kiln pid %d, which is gone (removed): %s\n", c.PID, strings.Join(c.Paths, " "))
		} else {
			fmt.Printf("stale cgroup of kiln pid %d, which is gone: %s\n", c.PID, strings.Join(c.Paths, " "))
		}
	}
	return err
}

// origin says where a derivation's output came from: built here, or
// fetched from a shared cache (--cache-from).
func origin(e store.Entry) string {
	switch {
	case e.Output == nil:
		return "-"
	case e.Output.Meta[realize.MetaOrigin] != "":
		return e.Output.Meta[realize.MetaOrigin]
	}
	return "local"
}
