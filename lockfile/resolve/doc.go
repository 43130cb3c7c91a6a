// Package resolve turns the requests of a build.hcl (image tags, URLs, git
// branches, oci-layout refs, fixed-output run steps) into lockfile pins.
// It is the only part of kiln that looks a tag or branch up: `kiln lock`
// calls Update, and builds read the lock it wrote.
//
// Each source kind has a Resolver in its own file (image.go, http.go,
// git.go, oci.go, deb.go), registered in kinds (resolver.go).
//
// Resolution runs concurrently, bounded by UpdateOptions.Jobs, and the
// result is assembled by address, never by completion order, so the same
// answers give the same bytes on any machine.
package resolve
