// Package containerinit is what a sandbox's init process runs before
// libcontainer takes over, shared by kiln (sandbox.Init, when kiln's own
// binary is the init) and cmd/kiln-init (the small init kiln starts
// instead when it can), so that the two cannot drift apart.
//
// It links libcontainer's init and nsenter and nothing else of kiln's:
// cmd/kiln-init is this package and a main function.
package containerinit

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	// nsenter is a cgo constructor that runs before the Go runtime starts in
	// every process of a binary that links it. In a container init it joins
	// and creates namespaces (which a multi-threaded Go process cannot do);
	// in any other process it sees no _LIBCONTAINER_INITPIPE and returns at
	// once.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// Names shared by kiln and the small init: Name is the binary's file name
// (next to kiln, or on PATH), Env the variable that names its path
// instead, and MemfdName the name of the sealed memfd kiln loads it into,
// by which the init re-execution in kiln's binary finds it (see
// realize/sandbox's initexec.go, which spells it in C as well).
const (
	Name      = "kiln-init"
	Env       = "KILN_INIT"
	MemfdName = "kiln-sandbox-init"
)

// IsInit says whether libcontainer started this process as a container
// init. The marker is libcontainer's: os.Args[1] == "init" together with
// the _LIBCONTAINER_INITPIPE variable it sets, so that a user command
// spelled "kiln init" is not mistaken for one.
func IsInit() bool {
	return len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_INITPIPE") != ""
}

// Run turns this process into the container init; it never returns. Call
// it only when IsInit, from the main goroutine locked to the main thread,
// before anything starts goroutines.
func Run() {
	// The kernel clears the parent-death signal on every fork, and
	// libcontainer sets it only on the first of the init's three stages,
	// so the container's init (the last stage, whose parent is kiln) would
	// outlive a killed kiln. Setting it here, before libcontainer reads it
	// to restore it after changing user, makes a step die with its kiln.
	// (If kiln dies before this line, sandbox.Cleanup kills the step later.)
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	// libcontainer applies the config's umask only once the root is
	// ready, after it has made the missing working directory (which lands
	// in the step's output): until then the caller's umask, inherited
	// from kiln, must not decide that directory's mode.
	unix.Umask(0o022)
	libcontainer.Init() // never returns
}
