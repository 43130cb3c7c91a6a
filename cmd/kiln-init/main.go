// Command kiln-init is the init of kiln's sandboxes: the first process of
// every build step's container, which libcontainer turns into the step's
// command. kiln would otherwise start its own, much larger, binary for
// that at every step; it loads this one once per process into a sealed
// memfd and starts it instead (see realize/sandbox's initexec.go).
//
// It is not meant to be run by hand. Build it from the same checkout as
// kiln, next to it (kiln checks that both carry the same libcontainer):
//
//	go build -tags seccomp -o DIR/kiln-init ./cmd/kiln-init   # DIR: where kiln is
//
// or install both with `go install -tags seccomp ./cmd/...`.
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/kiln-build/kiln/internal/containerinit"
)

// The init must run on the main thread, where nsenter left it in the
// step's namespaces.
func init() { runtime.LockOSThread() }

func main() {
	if !containerinit.IsInit() {
		fmt.Fprintln(os.Stderr, "kiln-init: kiln starts this program as the init of its build sandboxes; it does nothing run by hand (keep it next to kiln)")
		os.Exit(2)
	}
	containerinit.Run()
}
