// Package source fetches the external inputs of a build, the source
// derivations, and checks each against its pin before anything is kept:
// local directories (hashed by content, filtered with .kilnignore or
// .dockerignore semantics, re-hashed only when stat fields change), http
// files (sha256), git repositories (commit), OCI image layouts and registry
// images (manifest digest).
//
// It lives apart from the scheduler because fetching is where kiln meets
// the outside world: every byte that enters the store from a directory, a
// server or a repository comes through here, and is verified here, so that
// a derivation's pin means the same content on every machine. It knows
// nothing of the store beyond the small StatCache interface; callers give
// it a fresh directory and move the result into the store themselves.
package source
