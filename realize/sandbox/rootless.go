package sandbox

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/rootless"
	"github.com/kiln-build/kiln/realize/snapshot"
)

// A rootless kiln (internal/rootless) is root of a user namespace of its
// own: namespaces, overlayfs (with userxattr), seccomp and capabilities
// work for it as for root, since they are all scoped to that namespace.
// Two things are not: cgroups, which belong to the host's root unless
// delegated (cgroup v2 with systemd's Delegate=yes), and sysfs, which the
// kernel mounts only for a network namespace the user namespace owns.

// LimitsEnforced reports whether steps get their memory and pids limits
// here: always as root; in a user namespace only where kiln's own cgroup
// was delegated to the user (cgroup v2), never on cgroup v1.
var LimitsEnforced = sync.OnceValue(func() bool {
	if !rootless.InUserNS() {
		return true
	}
	if !cgroups.IsCgroup2UnifiedMode() {
		return false
	}
	paths, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		return false
	}
	return unix.Access(filepath.Join("/sys/fs/cgroup", paths[""]), unix.W_OK) == nil
})

// LimitsNotEnforced is the one warning a build gets when LimitsEnforced is
// false, and --require-limits's error.
const LimitsNotEnforced = "memory and pids limits are not enforced: kiln runs as a normal user and this machine does not delegate cgroups to users (cgroup v1, or v2 without systemd's Delegate=yes); steps run without them (--require-limits makes this an error)"

// unlimitedCgroup is a step's cgroup config when limits cannot be
// enforced: libcontainer tries to make the cgroup and, being told it is
// rootless, goes on without it when the kernel refuses. The step's own pid
// namespace still lets kiln kill all of it.
func unlimitedCgroup(name string) *cgroups.Cgroup {
	return &cgroups.Cgroup{Name: name, Rootless: true, Resources: &cgroups.Resources{}}
}

// sysMount is /sys for a step: a fresh sysfs, except for a rootless step
// that shares the host's network, whose namespace kiln's user namespace
// does not own; it gets the host's /sys bound read-only, as runc gives
// rootless containers.
func sysMount(hostNetwork bool) *configs.Mount {
	if hostNetwork && rootless.InUserNS() {
		return &configs.Mount{Source: "/sys", Destination: "/sys", Device: "bind", Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY | defaultMountFlags}
	}
	return &configs.Mount{Source: "sysfs", Destination: "/sys", Device: "sysfs", Flags: defaultMountFlags | unix.MS_RDONLY}
}

// keepAffinity gives a started step (its init, not yet exec'd) kiln's own
// CPU affinity where no cpuset cgroup carries it: libcontainer resets an
// init's affinity to every CPU, and as root the step's cpuset narrows it
// again (see narrowedAffinity), but a rootless step has no cgroup. kiln
// verify's cpus variation depends on it.
func keepAffinity(pid int) {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		_ = unix.SchedSetaffinity(pid, &set)
	}
}

// overlayHint explains a refused overlay mount when overlayfs was forced
// (KILN_SNAPSHOTTER=overlay): unset, kiln would have probed it and copied.
func overlayHint(kind snapshot.Kind) string {
	if kind != snapshot.Overlay || os.Getenv(snapshot.EnvVar) != "overlay" {
		return ""
	}
	return "; " + snapshot.EnvVar + "=overlay forces overlayfs: unset it to copy layers where overlayfs is refused (slower)"
}
