// Package examples holds kiln's example projects, one per folder, and the
// tests that hold them to their golden plans: the same build.hcl must give
// the same derivation digests in any folder, on any machine.
package examples
