package sandbox

import (
	"runtime"

	"github.com/kiln-build/kiln/internal/containerinit"

	// Device cgroup rules (which devices a step may open) are only
	// enforced when this package registers itself with the cgroup manager;
	// without it, creating a container with device rules fails.
	_ "github.com/opencontainers/cgroups/devices"
)

// Init turns this process into the container init when libcontainer
// started it as one, and returns immediately otherwise. Call it first thing
// in main's init() (and in TestMain of tests that run sandboxes), before
// anything starts goroutines or reads flags: a container init never returns
// from it.
//
// Most steps never get here: kiln's binary, started as a step's init,
// re-executes kiln-init before its Go runtime starts when kiln found one
// (see initexec.go). This is the init when it did not; both run
// containerinit.Run.
//
// Called from the main goroutine, it also ties that goroutine to the main
// thread for the life of the process, so that no other goroutine ever runs
// there: libcontainer joins a step's mount namespace from whatever thread
// its goroutine lands on and leaves that thread locked, and on the main
// thread (which Go never ends) the namespace would stay for good, behind
// every /proc/self path.
func Init() {
	runtime.LockOSThread()
	if containerinit.IsInit() {
		containerinit.Run() // never returns
	}
}
