// Package realize turns a compiled graph into store outputs: it finds what
// the store lacks, runs each missing derivation once (sources fetched by
// the fetcher of their kind, exec steps run by an executor.Executor, by
// default the libcontainer sandbox, file steps applied directly),
// concurrently up to a job limit, and records the results.
//
// Two keys find a derivation's output. The derivation digest says what is
// to be built; the resolved key replaces each input digest with the hash of
// that input's realized output. A derivation whose inputs were rebuilt but
// came out identical therefore hits the resolved key and is not rebuilt:
// early cutoff, as in Nix's content-addressed derivations.
package realize
