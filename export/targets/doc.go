// Package targets exports a build's compiled targets out of the store. It
// turns each target's states into the layers the export package writes:
// store layers as kiln's canonical tars, base image layers as the base's
// own blobs with the history of the steps that made them; and it applies
// the export settings the compiler lowered onto each target (outputs,
// image config, compression, artifact paths), so nothing here reads the
// build file again.
package targets
