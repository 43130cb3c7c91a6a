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
// nothing of the store beyond the small StatCache and DebCache interfaces;
// callers give it fresh directories and move the result into the store
// themselves.
//
// Each kind is a Fetcher in its own file (local.go, http.go, git.go,
// deb.go, image.go, oci.go), registered by its type in fetcher.go, where a
// new kind is added.
package source
