package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/engine"
	"github.com/kiln-build/kiln/store"
)

func newStoreConfigCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "config [KEY=VALUE...]",
		Short: "Show the store's configuration (its GC policy), or set keys",
		Long: `config shows the store's configuration, read from config.hcl in the
store: the automatic garbage collection policy, each key with its value and
whether the file sets it or it is the default. With KEY=VALUE arguments it
sets those keys (an empty VALUE returns a key to its default), checking
each, and rewrites config.hcl. See docs/store.md. Keys:

  gc.auto                  collect automatically (true, false)
  gc.keep_bytes            the store's budget, objects and cache mounts (10GB)
  gc.keep_duration         keep what was used within this, even over budget (48h, 7d)
  gc.min_free              collect during builds when free space is under this
  gc.sources.keep_duration keep sources and fixed outputs used within this
  gc.cache.keep_bytes      the budget of cache mounts
  gc.cache.keep_duration   keep cache mounts used within this`,
		RunE: func(cmd *cobra.Command, args []string) error {
			root := engine.StoreRoot(g.store)
			if len(args) > 0 {
				pairs := map[string]string{}
				for _, a := range args {
					k, v, ok := strings.Cut(a, "=")
					if !ok || k == "" {
						return usageErrorf("%q: want KEY=VALUE, such as gc.keep_bytes=5GB", a)
					}
					pairs[k] = v
				}
				if err := store.SetConfig(root, pairs); err != nil {
					return usageErrorf("%v", err)
				}
			}
			c, err := store.LoadConfig(root)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			for _, k := range store.ConfigKeys() {
				from := "default"
				if c.GC.Set[k] {
					from = filepath.Join(root, store.ConfigFile)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k, c.GC.Show(k), from)
			}
			return tw.Flush()
		},
	}
}

// printBudget shows the store's GC budget and what an automatic
// collection would remove now.
func printBudget(st *store.Store) error {
	c, err := store.LoadConfig(st.Root())
	if err != nil {
		return err
	}
	b, err := st.PlanAuto(c.GC)
	if err != nil {
		return err
	}
	h := func(n int64) string { return units.BytesSize(float64(n)) }
	auto := "automatic"
	if !c.GC.Auto {
		auto = "off (gc.auto = false)"
	}
	fmt.Printf("\nbudget: %s for objects and cache mounts (cache mounts %s); collection %s\n", h(c.GC.KeepBytes), h(c.GC.CacheKeepBytes), auto)
	fmt.Printf("counted: %s of layers and blobs, %s of cache mounts; %s free on the filesystem", h(b.Objects), h(b.Caches), h(b.Free))
	if c.GC.MinFree > 0 {
		fmt.Printf(" (min_free %s)", h(c.GC.MinFree))
	}
	fmt.Println()
	if b.Reason == "" {
		fmt.Println("automatic GC would remove nothing: the store is within its budget")
		return nil
	}
	fmt.Printf("automatic GC would remove %d derivations, %d layers, %d blobs, %d cache mounts: %s (%s)\n",
		b.Derivations, b.Layers, b.Blobs, b.CacheMounts, h(b.Bytes), b.Reason)
	return nil
}
