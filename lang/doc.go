// Package lang is kiln's HCL front end: it parses build.hcl (native syntax,
// or hcl's JSON syntax for .json files), binds variables from their
// defaults, *.kilnvars.hcl files, the environment and the command line,
// evaluates locals in dependency order, resolves references between blocks,
// and decodes the result into a Config the compiler can lower without any
// HCL knowledge.
//
// Every problem a user can cause is an hcl.Diagnostic with a source range,
// accumulated rather than stopping at the first, so kiln's errors look like
// hcl's own and a user fixes a broken file in one pass. Nothing here panics
// on input; FuzzLoad keeps it that way.
//
// Large build files load on every core: the file is cut into chunks at its
// top-level blocks, each read by a one-pass parser for the common subset of
// the syntax (fastparse.go) that builds hcl's exact syntax tree, with hcl's
// own parser for any chunk outside the subset, and clean blocks are decoded
// straight off the tree. loadFast (split.go) is the one way into that
// parser; every other file, and any file with a syntax error, goes through
// hcl alone. Tests and FuzzFastParse compare both shortcuts with hcl's
// general path.
package lang
