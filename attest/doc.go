// Package attest writes the supply-chain evidence of an image: an in-toto
// statement with SLSA provenance v1 (what kiln built, from what, how) and
// one with an SPDX 2.3 SBOM (what the image is made of).
//
// kiln knows every input exactly (the lock pins each one, each state is a
// content-addressed derivation), so the evidence can be complete, and it
// is reproducible itself: it holds no wall-clock time (SOURCE_DATE_EPOCH
// is its only time), no host name, no path and no random id, and its JSON
// is written by one encoder over frozen structs with every list sorted.
// Two builds of the same inputs in two stores give byte-identical
// statements, so golden files cover them.
//
// The package takes plain data (Build), never the compiler's graph or the
// store: package targets collects a Build from those, and export attaches
// the statements to images as BuildKit does (attestation manifests in the
// image index). Signing tools take the statement bytes Provenance and SBOM
// return.
package attest
