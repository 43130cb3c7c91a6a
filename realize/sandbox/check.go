package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrPrivileges is wrapped by every error that says kiln lacks what a
// sandbox needs, so callers can tell it apart from a failing step.
var ErrPrivileges = errors.New("insufficient privileges for a sandbox")

// capSysAdmin is CAP_SYS_ADMIN's bit number (linux/capability.h).
const capSysAdmin = 21

// Check reports whether this process can run sandboxes: it must be root
// with CAP_SYS_ADMIN (namespaces, overlayfs and cgroups all need it). The
// error says what is needed; kiln never falls back to running a step
// unsandboxed.
func Check() error {
	eff, err := effectiveCaps()
	if err != nil {
		return fmt.Errorf("reading this process's capabilities: %w", err)
	}
	return checkPrivileges(os.Geteuid(), eff)
}

func checkPrivileges(euid int, capEff uint64) error {
	if euid != 0 {
		return fmt.Errorf("%w: kiln needs root to run build steps in a sandbox (namespaces, overlayfs, cgroups); run as root, e.g. with sudo (running as uid %d)", ErrPrivileges, euid)
	}
	if capEff&(1<<capSysAdmin) == 0 {
		return fmt.Errorf("%w: kiln runs as root but without CAP_SYS_ADMIN, which build sandboxes need (namespaces, overlayfs, cgroups); run it on the host or in a privileged container", ErrPrivileges)
	}
	return nil
}

// effectiveCaps reads CapEff from /proc/self/status: it is what the kernel
// checks, whatever the uid says.
func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}
