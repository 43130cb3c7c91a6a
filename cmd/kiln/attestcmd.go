package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/attest"
)

func newProvenanceCmd(g *globals) *cobra.Command {
	var mode string
	cmd := newAttestationCmd(g, "provenance", func() (attest.Spec, error) {
		return attest.ParseSpec("type=provenance,mode=" + mode)
	})
	cmd.Short = "Build an image and print its SLSA provenance (an in-toto statement)"
	cmd.Long = `provenance builds TARGET, an image, and prints the in-toto statement with
the SLSA provenance v1 predicate that --attest type=provenance attaches to
it: one JSON document per platform, one per line. It holds no wall-clock
time, host name or path, so the same inputs print the same bytes anywhere.`
	cmd.Flags().StringVar(&mode, "mode", attest.ModeMin, "min, or max to add the derivation graph")
	return cmd
}

func newSBOMCmd(g *globals) *cobra.Command {
	cmd := newAttestationCmd(g, "sbom", func() (attest.Spec, error) { return attest.ParseSpec("type=sbom") })
	cmd.Short = "Build an image and print its SPDX 2.3 SBOM (an in-toto statement)"
	cmd.Long = `sbom builds TARGET, an image, and prints the in-toto statement with the
SPDX 2.3 document that --attest type=sbom attaches to it (--predicate: the
SPDX document alone): one JSON document per platform, one per line.`
	return cmd
}

// newAttestationCmd is the command that prints the statements spec says
// about an image.
func newAttestationCmd(g *globals, use string, spec func() (attest.Spec, error)) *cobra.Command {
	var f buildFlags
	var predicate bool
	cmd := &cobra.Command{
		Use:               use + " TARGET",
		ValidArgsFunction: completeTargets(g, 1),
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sp, err := spec()
			if err != nil {
				return usageErrorf("%v", err)
			}
			r, err := newBuildRenderer(g, false)
			if err != nil {
				return err
			}
			s, err := g.open(r, &f)
			if err != nil {
				return err
			}
			defer s.Close()
			built, err := build(cmd.Context(), s, args)
			if err != nil {
				return err
			}
			stmts, err := s.Attestation(built, args[0], sp)
			if err != nil {
				return err
			}
			for _, st := range stmts {
				if predicate {
					var v struct{ Predicate json.RawMessage }
					if err := json.Unmarshal(st, &v); err != nil {
						return fmt.Errorf("reading the statement: %w", err)
					}
					st = v.Predicate
				}
				if _, err := os.Stdout.Write(append(st, '\n')); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&predicate, "predicate", false, "print the predicate alone, not the in-toto statement")
	fl := cmd.Flags()
	fl.IntVarP(&f.jobs, "jobs", "j", 0, "derivations built at once (0: the CPU count)")
	fl.BoolVar(&f.locked, "locked", os.Getenv("CI") != "", "refuse to build when build.lock.hcl is incomplete or stale (default when CI is set)")
	fl.StringArrayVar(&f.secrets, "secret", nil, "a secret for secret mounts: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
	return cmd
}
