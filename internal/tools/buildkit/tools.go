//go:build tools

// Package buildkit pins the BuildKit release whose buildkitd and buildctl
// kiln's BuildKit tests run. It is a module of its own because BuildKit's
// go.mod has exclude directives, which `go install pkg@version` refuses;
// building from a module that requires BuildKit honours them. Nothing here
// is part of kiln's binary: scripts/buildkit-tools.sh builds the two
// commands into a cache outside the repository.
package buildkit

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
