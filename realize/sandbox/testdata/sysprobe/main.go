// sysprobe tries system calls that a default step must not make and prints
// one line per attempt, "NAME ok" or "NAME ERRNO" (EPERM, ENOSYS, ...), so a
// test can tell the seccomp filter and the capability set apart from the
// kernel's own refusals. The sandbox tests build it statically
// (CGO_ENABLED=0) and put it into a step's root filesystem.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	// unshare and mount act on the calling thread: keep them on one.
	runtime.LockOSThread()
	probe("unshare-mount-ns", func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return err
		}
		// As unshare(1) does: the probe's mount below must not propagate
		// to the namespace it came from (the host's, when a test runs it
		// there for comparison).
		return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
	})
	probe("mount-tmpfs", func() error {
		dir, err := os.MkdirTemp("", "probe-mnt")
		if err != nil {
			return err
		}
		defer os.Remove(dir)
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
			return err
		}
		return unix.Unmount(dir, 0)
	})
	probe("clone-newuser", func() error {
		// ForkExec's plain clone carries the flags where a filter can
		// read them.
		pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{
			Sys: &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER},
		})
		if err != nil {
			return err
		}
		var ws syscall.WaitStatus
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		return err
	})
	probe("keyctl", func() error {
		_, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
		return err
	})
	probe("add_key", func() error {
		_, err := unix.AddKey("user", "kiln-probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	})
	probe("bpf", func() error {
		// BPF_MAP_CREATE of a one-entry array map.
		attr := [5]uint32{2 /* BPF_MAP_TYPE_ARRAY */, 4, 4, 1, 0}
		fd, _, errno := unix.Syscall(unix.SYS_BPF, 0 /* BPF_MAP_CREATE */, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		if errno != 0 {
			return errno
		}
		return unix.Close(int(fd))
	})
	probe("ptrace-attach", func() error {
		// A child of our own: no capability is needed to trace it, so
		// only the filter can refuse.
		child := exec.Command("/bin/sleep", "10")
		if err := child.Start(); err != nil {
			return err
		}
		defer child.Wait()
		defer child.Process.Kill()
		return unix.PtraceAttach(child.Process.Pid)
	})
	probe("personality-query", func() error {
		_, _, errno := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
	probe("personality-no-randomize", func() error {
		_, _, errno := unix.Syscall(unix.SYS_PERSONALITY, 0x0040000 /* ADDR_NO_RANDOMIZE */, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
	probe("socket-vsock", func() error {
		fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	})
	probe("exec", func() error { return exec.Command("/bin/true").Run() })
}

func probe(name string, f func() error) {
	var en syscall.Errno
	switch err := f(); {
	case err == nil:
		fmt.Println(name, "ok")
	case errors.As(err, &en):
		fmt.Println(name, unix.ErrnoName(en))
	default:
		fmt.Println(name, "error:", err)
	}
}
