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
package lang
