// Package repro proves a build reproducible, as kiln verify does: it
// rebuilds every derivation of the targets from nothing, in throw-away
// stores, under changed conditions (clock, time zone, umask, hostname,
// locale, parallelism, store and folder paths, step order, CPU count,
// kernel release), and compares each derivation's output with the first
// build's. On a mismatch it isolates the variation that exposes it and
// describes what differs inside the output.
//
// The first build is the caller's: Verify is given its graph and store.
// Each rebuild is a child kiln process, because most variations are
// properties of a process (its environment, working directory, CPU
// affinity, personality, UTS namespace, umask) that must hold for the
// whole rebuild and everything it starts, and must not leak into the
// caller. The caller says how to start that child (Config.Exe and
// Config.Command); the child applies what only it can set on itself with
// Rebuild.ApplyToSelf and passes Rebuild.Shuffle to its realizer.
//
// Nothing here is package state: a Verify holds its rebuilds' folders and
// removes them when it returns (unless Config.Keep), and the report is
// data for the caller to print.
package repro
