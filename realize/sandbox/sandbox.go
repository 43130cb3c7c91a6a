package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/realize/snapshot"
)

// Mount is one extra filesystem mounted into the container at Dest.
type Mount struct {
	// Type is "bind", "tmpfs" or "overlay".
	Type string
	// Source is the host path of a bind mount.
	Source string
	// Dest is the absolute path inside the container.
	Dest string
	// ReadOnly mounts it read-only. An overlay without Upper is always
	// read-only.
	ReadOnly bool
	// Lowers are an overlay's layers, bottom first.
	Lowers []string
	// Upper and Work make an overlay writable: Upper receives its changes,
	// Work is overlayfs's scratch directory on the same filesystem. Upper
	// takes the mode and owner of the top lower's root, as the root
	// filesystem's does.
	Upper, Work string
	// SizeBytes caps a tmpfs (0: the kernel's default, half of RAM).
	SizeBytes int64
	// Mode is a tmpfs's root permission bits (0: 01777, as Docker's).
	Mode uint32
}

// Spec describes one step to run.
type Spec struct {
	// ID is unique among running sandboxes: it names the container and
	// its cgroup. Letters, digits, '_', '+', '-' and '.' only.
	ID string
	// Lowers are the root filesystem's layers, bottom first. They are
	// mounted read-only and may be empty (a scratch root).
	Lowers []string
	// Upper is an empty directory that receives the root's changes: it
	// becomes the step's new layer. Its mode and owner are set to those of
	// the top layer's root (0755 root:root for a scratch root), because
	// the container's "/" takes them from Upper.
	Upper string
	// Work is overlayfs's scratch directory, on the same filesystem as
	// Upper and empty.
	Work string
	// Args is the command; Args[0] is looked up in Env's PATH inside
	// the container.
	Args []string
	// Env is the process's whole environment: nothing is inherited from
	// kiln. If it has no HOME, libcontainer adds the user's home from the
	// container's /etc/passwd (or "/").
	Env []string
	// Cwd is the working directory ("" means "/"). It is created inside
	// the container when missing.
	Cwd string
	// User is "uid[:gid]" in numbers, or names looked up in the root
	// filesystem's /etc/passwd and /etc/group ("" means root).
	User string
	// Hostname is the container's hostname ("" means "kiln").
	Hostname string
	// Network false gives the step a network namespace of its own with only
	// loopback, up. True shares the host's network (fixed-output steps,
	// whose result is checked against a pinned hash); the host's
	// /etc/resolv.conf and /etc/hosts are then mounted read-only.
	Network bool
	// Mounts are mounted in order, after the standard ones.
	Mounts []Mount
	// MemoryBytes limits memory without swap (0: no limit).
	MemoryBytes int64
	// Pids limits the number of processes and threads (0: no limit).
	Pids int64
	// Insecure runs the step with every capability the kernel has and no
	// seccomp filter (a run step's security = "insecure"). Otherwise it
	// gets Docker's default capabilities and the seccomp filter of
	// stepSeccomp, and Run fails rather than run it unfiltered.
	Insecure bool
	// Timeout is the wall-time limit from the start of the process (0: no
	// limit). When it is hit, the container is killed and Run returns an
	// error saying so along with a Result whose TimedOut is set.
	Timeout time.Duration
	// Stdout and Stderr receive the process's output (nil: discarded).
	Stdout, Stderr io.Writer
	// StateDir is this run's private directory for libcontainer's state,
	// the root mount point and the skeleton layer. It is created and
	// removed by Run; a crashed kiln's leftovers are removed by Cleanup.
	StateDir string
}

// Result is how a step ended.
type Result struct {
	// ExitCode is the process's exit status, or 128+signal when it was
	// killed by a signal (137 after a kill or the OOM killer).
	ExitCode int
	// Duration is the wall time from the start of the container's init to
	// its exit.
	Duration time.Duration
	// TimedOut says the step was killed at Spec.Timeout.
	TimedOut bool
	// OOMKilled says the kernel killed a process of the step for exceeding
	// Spec.MemoryBytes.
	OOMKilled bool
	// PidsLimitHit says the kernel refused a fork or thread of the step
	// because of Spec.Pids; whether that made the step fail is up to the
	// step (most shells and make give up, some retry).
	PidsLimitHit bool
}

// Run runs spec's command in a new sandbox and waits for it. It returns an
// error only when the sandbox itself fails (bad spec, missing privileges,
// a mount or container that cannot be created), when ctx is done, or when
// the time limit is hit; a command that exits non-zero is a Result with
// that ExitCode and a nil error. Whatever happens, when Run returns the
// container is gone, its mounts are undone, its cgroup and StateDir are
// removed; only if the kernel refuses to remove the cgroup does Run say so
// and keep StateDir, which records the cgroup for Cleanup.
func Run(ctx context.Context, spec Spec) (res Result, err error) {
	if err := Check(); err != nil {
		return res, err
	}
	if err := spec.validate(); err != nil {
		return res, err
	}
	if err := checkSeccomp(spec.Insecure, SeccompSupported()); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, context.Cause(ctx)
	}
	if err := os.MkdirAll(spec.StateDir, 0o700); err != nil {
		return res, fmt.Errorf("creating sandbox state directory: %w", err)
	}
	if err := writeOwner(spec.StateDir); err != nil {
		os.RemoveAll(spec.StateDir)
		return res, err
	}
	// Set when the container's cgroups could not be removed: StateDir
	// then stays, with its record of them, for Cleanup once this process
	// has exited.
	keepState := false
	defer func() {
		if keepState {
			return
		}
		if cerr := removeStateDir(spec.StateDir); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := recordCgroups(spec.StateDir, spec.ID); err != nil {
		return res, err
	}

	// The step's mounts are made in a mount namespace of one thread,
	// which ends with the step: whenever kiln dies, even while the mounts
	// are attached on its side (before the container has its own copies),
	// the kernel drops them, and nothing is left mounted in the store. The
	// container is forked from that thread, so it starts from that
	// namespace.
	openCgroupRoot()
	var tree *snapshot.Tree
	onOwnThread(func() { res, tree, err = runPrivate(ctx, spec, &keepState) })
	if tree != nil {
		// The copy snapshotter's root: the step is gone, so what it left
		// there can be turned into the overlay-style Upper the realizer
		// takes. The root itself is scratch, on Work.
		if err == nil {
			err = tree.Diff(spec.Upper)
		}
		if rerr := os.RemoveAll(tree.Dir); rerr != nil && err == nil {
			err = fmt.Errorf("removing the step's copied root: %w", rerr)
		}
	}
	return res, err
}

// onOwnThread runs f on a thread that ends when f returns, so that what f
// changes about its thread (its mount namespace) goes with it.
func onOwnThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked (but on the main thread): the thread ends with
		// this goroutine instead of going back to the scheduler.
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Go never ends the main thread, and /proc/self shows its
			// mount namespace: hold it while another thread runs f.
			onOwnThread(f)
			runtime.UnlockOSThread()
			return
		}
		f()
	}()
	<-done
}

var cgroupRootOnce sync.Once

// openCgroupRoot makes the cgroups package open its handle on
// /sys/fs/cgroup, which it keeps for the life of the process, from a thread
// in kiln's own mount namespace. Opened on a step's thread, it would hold
// that thread's copy of the cgroup mounts, which the kernel takes down
// when the thread ends: every later step would then fail to find its
// cgroup files.
func openCgroupRoot() {
	cgroupRootOnce.Do(func() { _, _ = cgroups.ReadFile("/sys/fs/cgroup", "cgroup.procs") })
}

// privateMounts moves the calling thread into a mount namespace of its own
// whose mounts do not propagate to the host's (while the host's still
// propagate in). Where the kernel refuses (a seccomp profile that allows
// mount but not unshare), mounts stay in the host's namespace, as they
// did before: a killed kiln then leaves them for Cleanup.
func privateMounts() {
	if unix.Unshare(unix.CLONE_NEWNS) != nil {
		return
	}
	_ = unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, "")
}

// runPrivate is Run's work on a locked thread: it mounts the step's root
// and input overlays in a private mount namespace, runs the container and
// removes it. It sets keepState when the container's cgroups could not be
// removed.
func runPrivate(ctx context.Context, spec Spec, keepState *bool) (res Result, tree *snapshot.Tree, err error) {
	privateMounts()
	rootfs, tree, hostMounts, inputs, err := mountStep(spec)
	mounted := true
	defer func() {
		if mounted {
			for _, p := range hostMounts {
				if uerr := unmount(p); uerr != nil && err == nil {
					err = uerr
				}
			}
		}
	}()
	if err != nil {
		return res, tree, err
	}
	spec.Mounts = inputs

	container, process, err := newContainer(spec, rootfs)
	if err != nil {
		return res, tree, err
	}
	defer func() {
		if derr := container.Destroy(); derr != nil {
			*keepState = true
			if err == nil {
				err = fmt.Errorf("removing sandbox container %s (kiln removes it when it next runs a step): %w", spec.ID, derr)
			}
		}
	}()

	// The container's init gets SIGKILL when the thread that forked it
	// exits (the parent-death signal is per thread, not per process), so
	// that a killed kiln leaves no step running. This goroutine is pinned
	// to its thread (see Run) until the step is over, so Go cannot retire
	// that thread while the step still runs.

	start := time.Now()
	if err := container.Start(process); err != nil {
		if notFound(err) {
			// A step naming a program its root does not have failed the
			// way a shell's would, not the sandbox.
			if spec.Stderr != nil {
				fmt.Fprintf(spec.Stderr, "kiln: %s: command not found in the step's root filesystem\n", spec.Args[0])
			}
			res.ExitCode = 127
			res.Duration = time.Since(start)
			return res, tree, nil
		}
		return res, tree, fmt.Errorf("starting sandbox for %s: %w", describe(spec.Args), err)
	}
	if !LimitsEnforced() {
		if pid, err := process.Pid(); err == nil {
			keepAffinity(pid)
		}
	}
	// The init has pivoted into its own copy of the root mount and of the
	// input overlays (private propagation), so kiln's copies can go now;
	// the kernel drops the container's with its mount namespace.
	for _, p := range hostMounts {
		if err := unmount(p); err != nil {
			_ = container.Signal(unix.SIGKILL)
			_, _ = process.Wait()
			return res, tree, err
		}
	}
	mounted = false
	res, err = waitStep(ctx, spec, container, process, start)
	return res, tree, err
}

// mountStep mounts the step's root and its input overlays on kiln's side.
// It returns the root, the mount points to undo (also when it fails) and
// the step's mounts with the overlays replaced by binds of their points.
func mountStep(spec Spec) (rootfs string, tree *snapshot.Tree, points []string, inputs []Mount, err error) {
	rootfs, tree, err = mountRoot(spec)
	if err != nil {
		return "", tree, nil, nil, err
	}
	if tree == nil {
		points = []string{rootfs}
	}
	inputs, pts, err := mountInputs(spec)
	return rootfs, tree, append(points, pts...), inputs, err
}

// newContainer creates the step's container on rootfs and the process to
// start in it.
func newContainer(spec Spec, rootfs string) (*libcontainer.Container, *libcontainer.Process, error) {
	uid, gid, groups, err := resolveUser(rootfs, spec.User)
	if err != nil {
		return nil, nil, err
	}
	config, err := containerConfig(spec, rootfs, uid)
	if err != nil {
		return nil, nil, err
	}
	caps := config.Capabilities
	container, err := libcontainer.Create(filepath.Join(spec.StateDir, stateSubdir), spec.ID, config)
	if err != nil {
		return nil, nil, fmt.Errorf("creating sandbox container %s: %w", spec.ID, err)
	}
	noNewPrivs := true
	process := &libcontainer.Process{
		Args:             spec.Args,
		Env:              spec.Env,
		UID:              uid,
		GID:              gid,
		AdditionalGroups: groups,
		Cwd:              spec.cwd(),
		Stdout:           spec.Stdout,
		Stderr:           spec.Stderr,
		NoNewPrivileges:  &noNewPrivs,
		Capabilities:     caps,
		Init:             true,
	}
	return container, process, nil
}

// waitStep lets the started container's process run to its end, killing
// it when ctx is done or the time limit is hit, and says how it ended.
func waitStep(ctx context.Context, spec Spec, container *libcontainer.Container, process *libcontainer.Process, start time.Time) (res Result, err error) {
	runCtx := ctx
	var cancel context.CancelFunc = func() {}
	if spec.Timeout > 0 {
		runCtx, cancel = context.WithTimeoutCause(ctx, spec.Timeout, errTimeout)
	}
	defer cancel()
	stopKiller := context.AfterFunc(runCtx, func() { _ = container.Signal(unix.SIGKILL) })
	defer stopKiller()

	execErr := container.Exec()
	if execErr != nil {
		_ = container.Signal(unix.SIGKILL)
	}
	state, werr := process.Wait()
	res.Duration = time.Since(start)
	stopKiller()
	if state != nil {
		res.ExitCode = exitCode(state)
		res.OOMKilled = oomKilled(container)
		res.PidsLimitHit = pidsLimitHit(container)
	}
	// A kill for the time limit or ctx can land before the exec, making
	// Exec fail: report the reason for the kill, not its symptom.
	if runCtx.Err() != nil {
		if errors.Is(context.Cause(runCtx), errTimeout) && ctx.Err() == nil {
			res.TimedOut = true
			return res, fmt.Errorf("%s hit its time limit of %s and was killed", describe(spec.Args), spec.Timeout)
		}
		return res, fmt.Errorf("%s was killed: %w", describe(spec.Args), context.Cause(ctx))
	}
	if execErr != nil {
		return res, fmt.Errorf("starting %s in the sandbox: %w", describe(spec.Args), execErr)
	}
	if state == nil {
		return res, fmt.Errorf("waiting for %s in the sandbox: %w", describe(spec.Args), werr)
	}
	return res, nil
}

var errTimeout = errors.New("time limit hit")

const (
	stateSubdir  = "lc"
	rootfsSubdir = "rootfs"
	skelSubdir   = "skel"
	mountsSubdir = "mounts"
)

func (s *Spec) cwd() string {
	if s.Cwd == "" {
		return "/"
	}
	return s.Cwd
}

func (s *Spec) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if s.ID == "" {
		bad("ID is empty")
	}
	if len(s.Args) == 0 || s.Args[0] == "" {
		bad("no command (Args is empty)")
	}
	for name, p := range map[string]string{"Upper": s.Upper, "Work": s.Work, "StateDir": s.StateDir} {
		if !filepath.IsAbs(p) {
			bad("%s must be an absolute path, got %q", name, p)
		}
	}
	for _, l := range s.Lowers {
		if !filepath.IsAbs(l) {
			bad("layer %q is not an absolute path", l)
		}
	}
	if s.Cwd != "" && !filepath.IsAbs(s.Cwd) {
		bad("Cwd must be absolute, got %q", s.Cwd)
	}
	if s.MemoryBytes < 0 || s.Pids < 0 || s.Timeout < 0 {
		bad("limits must not be negative")
	}
	for i, m := range s.Mounts {
		if err := m.validate(); err != nil {
			bad("mount %d: %v", i, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid sandbox spec: %s", strings.Join(problems, "; "))
	}
	return nil
}

func (m *Mount) validate() error {
	if !filepath.IsAbs(m.Dest) || filepath.Clean(m.Dest) == "/" {
		return fmt.Errorf("destination %q must be an absolute path other than /", m.Dest)
	}
	switch m.Type {
	case "bind":
		if !filepath.IsAbs(m.Source) {
			return fmt.Errorf("bind source %q must be an absolute path", m.Source)
		}
	case "tmpfs":
		if m.SizeBytes < 0 {
			return fmt.Errorf("tmpfs size must not be negative")
		}
	case "overlay":
		if len(m.Lowers) == 0 {
			return fmt.Errorf("overlay at %s has no lower layers", m.Dest)
		}
		if (m.Upper == "") != (m.Work == "") {
			return fmt.Errorf("overlay at %s needs both Upper and Work, or neither", m.Dest)
		}
	default:
		return fmt.Errorf("unknown mount type %q (want bind, tmpfs or overlay)", m.Type)
	}
	return nil
}

// notFound recognizes libcontainer's report that the command's executable
// is missing: the container init checks before it execs, and only its
// message crosses the process boundary.
func notFound(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "executable file not found") ||
		(strings.Contains(msg, "exec: ") && strings.Contains(msg, "no such file or directory"))
}

func describe(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func exitCode(state *os.ProcessState) int {
	ws, ok := state.Sys().(syscall.WaitStatus)
	if !ok {
		return state.ExitCode()
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
