// Package engine owns a build session: it loads a build file and its lock,
// checks the lock, compiles the targets, realizes them into the store and
// records the results, reporting progress as a typed stream of events.
//
// It is kiln as a library: cmd/kiln only parses flags into Options,
// renders the events and maps the errors to exit codes. A Session holds
// the store handle for its whole life, so every path out of a build
// (success, a failed step, an interrupt) releases it through Close.
//
// Errors are plain wrapped errors except two kinds a caller must tell
// apart: *UsageError (the caller asked for something the build file or the
// command line cannot give) and *DiagError (problems in the build file,
// as hcl diagnostics with the files they point into).
package engine
