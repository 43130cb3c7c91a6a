// Package lockfile owns build.lock.hcl: the file that pins every external
// input of a build.hcl (image digests, http hashes, git commits, oci-layout
// digests, the output hashes of fixed-output run steps) so that a build
// never resolves a tag, branch or URL itself.
//
// The format is written the way Terraform writes .terraform.lock.hcl: one
// block per input keyed by its build.hcl address, blocks sorted, attributes
// in a fixed order, one value per line, and nothing global (no timestamp, no
// checksum of the whole file), so that updating one input changes only that
// input's block and two pull requests touching different inputs merge
// without conflict. A lock that is not byte-for-byte in this normal form is
// rejected: hand edits show up as errors, not as silent drift.
//
// Each entry type is a kind in its own kind_TYPE.go (its attributes, when
// an entry is stale, the pin the compiler gets, how changes are worded),
// registered in kind.go.
//
// Resolving requests to pins lives in the resolve sub-package; this package
// has no network access, so the compiler can depend on it cheaply.
package lockfile
