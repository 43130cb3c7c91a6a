//go:build tools

// Package cosign pins the cosign release whose command kiln's signing
// tests run to check that what kiln writes is what cosign accepts. It is a
// module of its own so that cosign's dependencies never enter kiln's
// go.mod, and because building inside a module that requires cosign
// honours its go.mod where `go install pkg@version` may refuse it.
// Nothing here is part of kiln's binary: scripts/cosign-tools.sh builds
// the command into a cache outside the repository.
package cosign

import (
	_ "github.com/sigstore/cosign/v2/cmd/cosign"
)
