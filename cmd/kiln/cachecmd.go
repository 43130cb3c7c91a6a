package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cache"
)

func newCacheCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Manage the keys that sign shared caches (--cache-to, --cache-from)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "keygen NAME",
		Short: "Write a new signing key pair: NAME.key (secret) and NAME.pub in the current folder",
		Long: `keygen writes an ed25519 key pair in the current folder. Sign exports
with --cache-to ...,key=NAME.key; trust them with --cache-from
...,trusted=NAME.pub. Keep NAME.key secret (a CI secret): whoever has it
can put any output into caches that trust NAME.pub.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			priv, pub, err := cache.Keygen(".", args[0])
			if err != nil {
				return err
			}
			fmt.Printf("wrote %s (secret: sign with --cache-to ...,key=%s)\n", priv, priv)
			fmt.Printf("wrote %s (public: trust with --cache-from ...,trusted=%s)\n", pub, pub)
			return nil
		},
	})
	usageArgs(cmd)
	for _, c := range cmd.Commands() {
		usageArgs(c)
	}
	return cmd
}
