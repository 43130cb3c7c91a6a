package sandbox

import (
	"slices"
	"strings"
	"testing"
)

// TestSeccompKeepsEscapesOut guards the allowlist against an edit that lets
// in what a step must never do: change mounts or namespaces, load code
// into the kernel, reach other processes, the keyring or the host's clock.
func TestSeccompKeepsEscapesOut(t *testing.T) {
	never := []string{
		"mount", "umount", "umount2", "pivot_root", "unshare", "setns", "move_mount", "open_tree",
		"fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
		"bpf", "perf_event_open", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
		"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
		"keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register",
		"userfaultfd", "open_by_handle_at", "reboot", "swapon", "swapoff", "acct", "syslog",
		"settimeofday", "clock_settime", "stime", "sethostname", "setdomainname",
		"iopl", "ioperm", "quotactl", "lookup_dcookie", "fanotify_init", "vhangup", "nfsservctl",
	}
	profile := stepSeccomp()
	for _, r := range profile.Syscalls {
		if slices.Contains(never, r.Name) {
			t.Errorf("the step filter lets %s through", r.Name)
		}
	}
	seen := map[string]bool{}
	for _, n := range allowedSyscalls {
		if seen[n] {
			t.Errorf("%s is listed twice", n)
		}
		seen[n] = true
	}
}

func TestCheckSeccompSaysWhatToDo(t *testing.T) {
	if err := checkSeccomp(false, true); err != nil {
		t.Errorf("supported: %v", err)
	}
	if err := checkSeccomp(true, false); err != nil {
		t.Errorf("insecure step without support: %v", err)
	}
	err := checkSeccomp(false, false)
	if err == nil {
		t.Fatal("a default step would run unfiltered")
	}
	for _, want := range []string{"without seccomp support", "libseccomp-dev", "-tags seccomp", `security = "insecure"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
