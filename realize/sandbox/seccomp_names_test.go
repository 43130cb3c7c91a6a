//go:build cgo && seccomp

package sandbox

import (
	"testing"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// newerThanLibseccomp are names the libseccomp this is tested with
// (Debian 12's 2.5.4) may not know yet; libcontainer skips them there, and
// the filter answers ENOSYS for syscalls newer than its newest known one.
var newerThanLibseccomp = map[string]bool{"fchmodat2": true}

// TestSeccompNamesExist catches a misspelt name in the allowlist, which
// libcontainer would skip without a word: every name must be a system call
// of at least one architecture libseccomp knows.
func TestSeccompNamesExist(t *testing.T) {
	arches := []libseccomp.ScmpArch{
		libseccomp.ArchAMD64, libseccomp.ArchX86, libseccomp.ArchX32, libseccomp.ArchARM64, libseccomp.ArchARM,
		libseccomp.ArchS390X, libseccomp.ArchPPC64LE, libseccomp.ArchRISCV64,
	}
	names := append([]string{"socket", "personality", "clone", "clone3"}, allowedSyscalls...)
	for _, l := range archSyscalls {
		names = append(names, l...)
	}
	for _, n := range names {
		found := false
		for _, a := range arches {
			if _, err := libseccomp.GetSyscallFromNameByArch(n, a); err == nil {
				found = true
				break
			}
		}
		if !found && !newerThanLibseccomp[n] {
			t.Errorf("%s is not a system call libseccomp knows on any architecture", n)
		}
	}
}
