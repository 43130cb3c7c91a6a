package sandbox

import (
	"os"
	"runtime"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	// Device cgroup rules (which devices a step may open) are only
	// enforced when this package registers itself with the cgroup manager;
	// without it, creating a container with device rules fails.
	_ "github.com/opencontainers/cgroups/devices"

	// nsenter is a cgo constructor that runs before the Go runtime starts in
	// every process of this binary. In the re-executed container init it joins
	// and creates namespaces (which a multi-threaded Go process cannot do);
	// in any other process it sees no _LIBCONTAINER_INITPIPE and returns at
	// once. It lives here so that importing sandbox is enough.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// Init turns this process into the container init when libcontainer
// started it as one, and returns immediately otherwise. Call it first thing
// in main's init() (and in TestMain of tests that run sandboxes), before
// anything starts goroutines or reads flags: a container init never returns
// from it.
//
// The marker is libcontainer's: os.Args[1] == "init" together with the
// _LIBCONTAINER_INITPIPE variable it sets, so a user command spelled
// "kiln init" is not mistaken for a container init.
//
// Called from the main goroutine, it also ties that goroutine to the main
// thread for the life of the process, so that no other goroutine ever runs
// there: libcontainer joins a step's mount namespace from whatever thread
// its goroutine lands on and leaves that thread locked, and on the main
// thread (which Go never ends) the namespace would stay for good, behind
// every /proc/self path.
func Init() {
	runtime.LockOSThread()
	if !isContainerInit() {
		return
	}
	// The kernel clears the parent-death signal on every fork, and
	// libcontainer sets it only on the first of the init's three stages,
	// so the container's init (the last stage, whose parent is kiln) would
	// outlive a killed kiln. Setting it here, before libcontainer reads it
	// to restore it after changing user, makes a step die with its kiln.
	// (If kiln dies before this line, Cleanup kills the step later.)
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	// libcontainer applies the config's umask only once the root is
	// ready, after it has made the missing working directory (which lands
	// in the step's output): until then the caller's umask, inherited
	// from kiln, must not decide that directory's mode.
	unix.Umask(0o022)
	libcontainer.Init() // never returns
}

func isContainerInit() bool {
	return len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_INITPIPE") != ""
}
