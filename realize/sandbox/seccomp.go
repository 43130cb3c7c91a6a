package sandbox

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"
)

// The seccomp filter of every step that did not opt out with security =
// "insecure". It follows Docker's default profile, which BuildKit also
// applies to RUN: an allowlist, everything else fails with EPERM. Docker
// widens its list with each capability a container is given; a step
// always has the fixed set in defaultCaps, so the list below is Docker's
// for exactly that set (chroot is in, because CAP_SYS_CHROOT is). Two
// differences, both stricter: ptrace and process_vm_readv/writev are out
// (Docker lets them through on kernels from 4.8, but a build step has no
// business inspecting other processes), and so is io_uring, which newer
// Docker and containerd profiles drop too for its record of kernel bugs.
//
// The names are resolved by libseccomp for the kernel's architecture;
// names a given architecture does not have (the 32-bit *32 and *_time64
// variants on x86-64, say) are skipped by libcontainer, so one list serves
// all of them.

// allowedSyscalls are let through whatever their arguments.
var allowedSyscalls = concat(
	// Files, directories and their metadata.
	[]string{
		"access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd",
		"chmod", "fchmod", "fchmodat", "fchmodat2",
		"chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
		"open", "openat", "openat2", "creat", "close", "close_range",
		"dup", "dup2", "dup3", "fcntl", "fcntl64", "flock",
		"read", "readv", "pread64", "preadv", "preadv2",
		"write", "writev", "pwrite64", "pwritev", "pwritev2",
		"lseek", "_llseek", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
		"fallocate", "fadvise64", "fadvise64_64", "readahead",
		"truncate", "truncate64", "ftruncate", "ftruncate64",
		"copy_file_range", "sendfile", "sendfile64", "splice", "tee", "vmsplice",
		"getdents", "getdents64", "mkdir", "mkdirat", "rmdir", "mknod", "mknodat",
		"link", "linkat", "symlink", "symlinkat", "readlink", "readlinkat",
		"rename", "renameat", "renameat2", "unlink", "unlinkat",
		"stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat", "statx",
		"statfs", "statfs64", "fstatfs", "fstatfs64",
		"umask", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
		"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr",
		"listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
		"name_to_handle_at", "ioctl",
	},
	// Waiting on file descriptors, and descriptors that are events.
	[]string{
		"select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
		"epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2",
		"pipe", "pipe2", "eventfd", "eventfd2", "signalfd", "signalfd4",
		"timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime", "timerfd_gettime64",
		"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
		"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
		"io_pgetevents", "io_pgetevents_time64",
	},
	// Memory.
	[]string{
		"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
		"mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages",
		"membarrier", "memfd_create", "memfd_secret", "pkey_alloc", "pkey_free", "pkey_mprotect",
		"process_mrelease",
	},
	// Processes and threads (clone and clone3 have rules of their own).
	[]string{
		"execve", "execveat", "fork", "vfork", "exit", "exit_group",
		"wait4", "waitid", "waitpid", "kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal",
		"getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
		"set_tid_address", "get_robust_list", "set_robust_list", "rseq", "restart_syscall",
		"get_thread_area", "set_thread_area",
		"prctl", "capget", "capset", "seccomp",
		"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
		"getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "times",
		"getpriority", "setpriority", "ioprio_get", "ioprio_set", "getcpu",
		"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
		"sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
		"sched_get_priority_max", "sched_get_priority_min",
		"sched_rr_get_interval", "sched_rr_get_interval_time64",
		"futex", "futex_time64", "futex_waitv",
	},
	// Users and groups: setuid and friends are bounded by the
	// capabilities, not by the filter.
	[]string{
		"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
		"getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32",
		"setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
		"setresuid", "setresuid32", "setresgid", "setresgid32",
		"setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "setgroups", "setgroups32",
	},
	// Signals.
	[]string{
		"rt_sigaction", "rt_sigprocmask", "rt_sigpending", "rt_sigsuspend", "rt_sigreturn",
		"rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigtimedwait", "rt_sigtimedwait_time64",
		"sigaltstack", "sigprocmask", "sigreturn", "pause", "alarm",
	},
	// Clocks and timers: reading them, and sleeping. Setting the clock
	// needs CAP_SYS_TIME, which a step lacks (adjtimex then only reads).
	[]string{
		"time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
		"clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "adjtimex", "clock_adjtime", "clock_adjtime64",
		"getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
		"timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
	},
	// System V and POSIX IPC, inside the step's own IPC namespace.
	[]string{
		"ipc", "msgget", "msgctl", "msgsnd", "msgrcv", "semget", "semctl", "semop",
		"semtimedop", "semtimedop_time64", "shmget", "shmctl", "shmat", "shmdt",
		"mq_open", "mq_unlink", "mq_getsetattr", "mq_notify",
		"mq_timedsend", "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64",
	},
	// Sockets (socket itself has a rule of its own), in the step's own
	// network namespace unless it is a fixed-output step.
	[]string{
		"socketpair", "socketcall", "bind", "listen", "accept", "accept4", "connect", "shutdown",
		"getsockname", "getpeername", "getsockopt", "setsockopt",
		"send", "sendto", "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64",
	},
	// The machine, read-only, and randomness.
	[]string{"uname", "sysinfo", "getrandom"},
	// CAP_SYS_CHROOT is in the step's set: package scripts chroot.
	[]string{"chroot"},
)

// archSyscalls are allowed on one architecture only.
var archSyscalls = map[string][]string{
	"amd64": {"arch_prctl", "modify_ldt"},
	"386":   {"modify_ldt"},
	"arm64": {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
	"arm":   {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
}

// extraArches are the architectures whose programs a step may run besides
// the native one (32-bit programs on a 64-bit kernel), each filtered by the
// same rules; the kernel kills a process that makes a system call of any
// other. Docker also lists x32, an ABI nearly no distribution builds
// programs for; leaving it out makes the filter, which libcontainer
// compiles in every step's init, about 15 ms a step cheaper on a loaded
// 2-core machine (BenchmarkSandboxVsRunc: its "insecure" case shows the
// rest of the filter's cost).
var extraArches = map[string][]string{
	"amd64": {"x86"},
	"arm64": {"arm"},
}

// namespaceFlags are clone's flags that create namespaces: a step may
// start processes and threads, not new namespaces (that needs
// CAP_SYS_ADMIN in Docker's profile, which a step never has).
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// personalities are the execution domains a step may switch to: plain
// Linux, the 32-bit one, UNAME26 (a 2.6 version in uname, for old
// build scripts), the two together, and 0xffffffff, which only queries.
// Others can turn off address space randomization or map page zero.
var personalities = []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// stepSeccomp is the filter a default step runs under.
func stepSeccomp() *configs.Seccomp {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	allow := func(name string, args ...*configs.Arg) *configs.Syscall {
		return &configs.Syscall{Name: name, Action: configs.Allow, Args: args}
	}
	var rules []*configs.Syscall
	for _, n := range allowedSyscalls {
		rules = append(rules, allow(n))
	}
	for _, n := range archSyscalls[runtime.GOARCH] {
		rules = append(rules, allow(n))
	}
	// AF_VSOCK talks to the hypervisor, outside any network namespace.
	rules = append(rules, allow("socket", &configs.Arg{Index: 0, Value: unix.AF_VSOCK, Op: configs.NotEqualTo}))
	// Each personality is a rule of its own: rules are alternatives,
	// the conditions of one rule all have to hold.
	for _, p := range personalities {
		rules = append(rules, allow("personality", &configs.Arg{Index: 0, Value: p, Op: configs.EqualTo}))
	}
	flagsArg := uint(0)
	if runtime.GOARCH == "s390x" {
		flagsArg = 1 // s390 passes clone's stack first
	}
	rules = append(rules,
		allow("clone", &configs.Arg{Index: flagsArg, Value: namespaceFlags, ValueTwo: 0, Op: configs.MaskEqualTo}),
		// clone3 passes its flags in memory, which a filter cannot read:
		// "not implemented" makes libc fall back to clone, checked above.
		&configs.Syscall{Name: "clone3", Action: configs.Errno, ErrnoRet: &enosys},
	)
	return &configs.Seccomp{
		DefaultAction:   configs.Errno,
		DefaultErrnoRet: &eperm,
		Architectures:   extraArches[runtime.GOARCH],
		Syscalls:        rules,
	}
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// ErrNoSeccomp is wrapped by the error of a step that would run without
// its seccomp filter because this kiln was built without seccomp support.
var ErrNoSeccomp = errors.New("this kiln was built without seccomp support")

// SeccompSupported says whether this binary can filter a step's system
// calls: libcontainer's seccomp needs cgo, libseccomp and the seccomp
// build tag, and without them reports libseccomp version 0.0.0.
func SeccompSupported() bool {
	major, minor, micro := seccomp.Version()
	return major+minor+micro > 0
}

// checkSeccomp refuses a default step when the filter cannot be applied:
// a step never runs unfiltered unless it asked to.
func checkSeccomp(insecure, supported bool) error {
	if insecure || supported {
		return nil
	}
	return fmt.Errorf("%w, so it cannot apply the seccomp filter every step runs under, and it does not run a step without it: "+
		"build kiln with cgo, libseccomp and the seccomp build tag "+
		"(apt-get install libseccomp-dev pkg-config; CGO_ENABLED=1 go build -tags seccomp ./cmd/kiln, as scripts/test.sh does), "+
		"or set security = \"insecure\" on a run step that must run unfiltered", ErrNoSeccomp)
}
