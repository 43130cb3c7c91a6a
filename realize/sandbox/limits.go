package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// DefaultPids is the process and thread limit of a step that sets none:
// enough for a parallel build (podman's default for a whole container is
// 2048; a build step runs compilers and linkers with threads of their own),
// few enough that a fork bomb stops long before the host's pid space
// (32768 by default) runs out.
const DefaultPids = 4096

// DefaultMemoryBytes is the memory limit of a step that sets none: three
// quarters of the memory kiln may use, which is the machine's RAM or the
// memory limit of kiln's own cgroup (a CI job's container), whichever is
// lower. A fixed value fits no machine: a big link needs more than a small
// CI runner has, and a limit above RAM protects nothing. The quarter left
// over keeps the host's own services, kiln and the page cache alive, so a
// runaway step is killed by its own limit before the host's OOM killer
// picks a victim of its own.
func DefaultMemoryBytes() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	avail := int64(si.Totalram) * int64(si.Unit)
	if l := ownMemoryLimit(); l > 0 && l < avail {
		avail = l
	}
	return avail / 4 * 3 &^ (1<<20 - 1) // whole MiB: what the message shows
}

// ownMemoryLimit is the lowest memory limit on kiln's cgroup and its
// ancestors (0: none found). The steps' cgroups are created below kiln's,
// so that limit holds for them anyway; a step's default must stay under it
// for the step, not kiln, to be what the kernel kills.
func ownMemoryLimit() int64 {
	var dir, top, file string
	if cgroups.IsCgroup2UnifiedMode() {
		paths, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
		if err != nil {
			return 0
		}
		top, file = "/sys/fs/cgroup", "memory.max"
		dir = filepath.Join(top, paths[""])
	} else {
		var err error
		if dir, err = cgroups.GetOwnCgroupPath("memory"); err != nil {
			return 0
		}
		if top, err = cgroups.FindCgroupMountpoint("", "memory"); err != nil {
			return 0
		}
		file = "memory.limit_in_bytes"
	}
	var lowest int64
	// In a container that sees the host's cgroup path but has its own
	// cgroup mounted at top, the path's lower parts do not exist: they
	// are skipped, and top's file is the container's limit.
	for {
		if b, err := os.ReadFile(filepath.Join(dir, file)); err == nil {
			// "max" (v2) does not parse, and v1's "no limit" is a huge
			// number: both are no limit here.
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (lowest == 0 || n < lowest) {
				lowest = n
			}
		}
		if dir == top || !strings.HasPrefix(dir, top+"/") {
			return lowest
		}
		dir = filepath.Dir(dir)
	}
}

// pidsLimitHit reads the pids controller's count of forks it refused; a
// counter rather than an event, so it cannot be missed. Read before the
// container is destroyed, since the counter goes with its cgroup.
func pidsLimitHit(c *libcontainer.Container) bool {
	st, err := c.State()
	if err != nil {
		return false
	}
	if p := st.CgroupPaths["pids"]; p != "" {
		return counterAbove(filepath.Join(p, "pids.events"), "max")
	}
	if p := st.CgroupPaths[""]; p != "" { // cgroup v2
		return counterAbove(filepath.Join(p, "pids.events"), "max")
	}
	return false
}

// swapAccounting says whether memory+swap can be limited. A cgroup v1 kernel
// booted without swap accounting has no memory.memsw files, and setting
// one would fail every step now that every step has a memory limit; the
// limit then bounds memory alone. (cgroup v2's manager skips swap itself
// when the kernel has no swap controller.)
func swapAccounting() bool {
	if cgroups.IsCgroup2UnifiedMode() {
		return true
	}
	mnt, err := cgroups.FindCgroupMountpoint("", "memory")
	return err == nil && cgroups.PathExists(filepath.Join(mnt, "memory.memsw.limit_in_bytes"))
}
