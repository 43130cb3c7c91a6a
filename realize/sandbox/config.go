package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"
)

// defaultCaps is Docker's default capability set: enough for package
// managers (chown, setuid to drop privileges, mknod in the private /dev),
// nothing that reaches outside the container.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// maskedPaths and readonlyPaths are runc's default spec's: kernel
// interfaces under /proc and /sys that leak host information or allow
// changing the host.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// capabilitiesFor gives root Docker's set (every capability kiln has, for
// an insecure step), and other users only the bounding set: a step
// that switches to a user keeps no privileges unless it runs a
// setuid/file-capability program, which no-new-privileges stops.
func capabilitiesFor(uid int, insecure bool) (*configs.Capabilities, error) {
	set := defaultCaps
	if insecure {
		all, err := allCaps()
		if err != nil {
			return nil, err
		}
		set = all
	}
	c := &configs.Capabilities{Bounding: set}
	if uid == 0 {
		c.Effective, c.Permitted = set, set
	}
	return c, nil
}

// allCaps are the capabilities kiln itself has, which a step cannot
// exceed (a kiln in a container often lacks a few); listed by name only
// as far as the kernel knows them, since naming one it does not would make
// libcontainer warn on every step.
func allCaps() ([]string, error) {
	list, err := capability.ListSupported()
	if err != nil {
		return nil, fmt.Errorf("listing the kernel's capabilities for an insecure step: %w", err)
	}
	eff, err := effectiveCaps()
	if err != nil {
		return nil, fmt.Errorf("reading kiln's capabilities for an insecure step: %w", err)
	}
	var names []string
	for _, c := range list {
		if eff&(1<<uint(c)) != 0 {
			names = append(names, "CAP_"+strings.ToUpper(c.String()))
		}
	}
	return names, nil
}

const defaultMountFlags = unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV

func containerConfig(spec Spec, rootfs string, uid int) (*configs.Config, error) {
	resources := stepResources(spec)
	hostname := spec.Hostname
	if hostname == "" {
		hostname = "kiln"
	}
	umask := uint32(0o022)
	namespaces, networks := stepNamespaces(spec.Network)
	caps, err := capabilitiesFor(uid, spec.Insecure)
	if err != nil {
		return nil, err
	}
	var filter *configs.Seccomp
	if !spec.Insecure {
		filter = stepSeccomp()
	}
	c := &configs.Config{
		Rootfs: rootfs,
		// Private: the host's mounts never propagate in, and unmounting the
		// host's copy of the root mount after start (see Run) cannot
		// propagate into the container either.
		RootPropagation:   unix.MS_PRIVATE | unix.MS_REC,
		ParentDeathSignal: int(unix.SIGKILL),
		Umask:             &umask,
		Hostname:          hostname,
		Namespaces:        namespaces,
		Networks:          networks,
		Capabilities:      caps,
		Seccomp:           filter,
		NoNewPrivileges:   true,
		MaskPaths:         maskedPaths,
		ReadonlyPaths:     readonlyPaths,
		Devices:           specconv.AllowedDevices,
		Cgroups:           cgroupConfig(cgroupName(os.Getpid(), spec.ID), resources),
		Rlimits:           []configs.Rlimit{nofileLimit()},
	}
	if !LimitsEnforced() {
		c.Cgroups = unlimitedCgroup(cgroupName(os.Getpid(), spec.ID))
		c.RootlessCgroups = true
	}
	mounts, err := stepMounts(spec)
	if err != nil {
		return nil, err
	}
	c.Mounts = mounts
	return c, nil
}

// stepResources are the step's cgroup limits and device rules.
func stepResources(spec Spec) *cgroups.Resources {
	var rules []*devices.Rule
	for _, d := range specconv.AllowedDevices {
		rules = append(rules, &d.Rule)
	}
	resources := &cgroups.Resources{Devices: rules}
	if spec.MemoryBytes > 0 {
		resources.Memory = spec.MemoryBytes
		// memory+swap equal to memory: no swap, so the limit is a limit.
		if swapAccounting() {
			resources.MemorySwap = spec.MemoryBytes
		}
	}
	if spec.Pids > 0 {
		p := spec.Pids
		resources.PidsLimit = &p
	}
	// Joining a cgroup with a cpuset resets a process's CPU affinity to the
	// cpuset's CPUs, so a narrowed affinity of kiln (taskset, the cpus
	// variation of kiln verify) reaches the step only as its cpuset.
	resources.CpusetCpus = narrowedAffinity()
	return resources
}

// stepNamespaces are the namespaces of a step, with only loopback in a
// network namespace of its own unless it shares the host's.
func stepNamespaces(hostNetwork bool) (configs.Namespaces, []*configs.Network) {
	namespaces := configs.Namespaces{
		{Type: configs.NEWNS}, {Type: configs.NEWUTS}, {Type: configs.NEWIPC}, {Type: configs.NEWPID},
	}
	var networks []*configs.Network
	if !hostNetwork {
		namespaces = append(namespaces, configs.Namespace{Type: configs.NEWNET})
		networks = []*configs.Network{{Type: "loopback", Address: "127.0.0.1/0", Gateway: "localhost"}}
	}
	return namespaces, networks
}

// stepMounts are the standard filesystems of a step, the host's network
// files when it shares the host's network, then its own mounts.
func stepMounts(spec Spec) ([]*configs.Mount, error) {
	mounts := []*configs.Mount{
		{Source: "proc", Destination: "/proc", Device: "proc", Flags: defaultMountFlags},
		{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
		{Source: "devpts", Destination: "/dev/pts", Device: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: defaultMountFlags, Data: "mode=1777,size=65536k"},
		{Source: "mqueue", Destination: "/dev/mqueue", Device: "mqueue", Flags: defaultMountFlags},
		sysMount(spec.Network),
	}
	if spec.Network {
		for _, f := range networkFiles {
			if _, err := os.Stat(f); err == nil {
				mounts = append(mounts, &configs.Mount{Source: f, Destination: f, Device: "bind", Flags: unix.MS_BIND | unix.MS_RDONLY})
			}
		}
	}
	for _, m := range spec.Mounts {
		cm, err := libcontainerMount(m)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, cm)
	}
	return mounts, nil
}

// cgroupName names the cgroups of container id run by process pid. The pid
// lets any later kiln tell the cgroups of a killed kiln from those of a
// live one (SweepCgroups), whichever store either used.
func cgroupName(pid int, id string) string {
	return "kiln-" + strconv.Itoa(pid) + "-" + id
}

func cgroupConfig(name string, r *cgroups.Resources) *cgroups.Cgroup {
	// Relative: below kiln's own cgroup, so a limit put on kiln also holds
	// for its steps.
	return &cgroups.Cgroup{Path: name, Resources: r}
}

// nofileLimit is fixed rather than inherited, so a step sees the same
// limit whoever started kiln, except that kiln cannot raise a hard limit
// without CAP_SYS_RESOURCE, so a lower one is kept.
func nofileLimit() configs.Rlimit {
	soft, hard := uint64(1024), uint64(524288)
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err == nil {
		hard = min(hard, cur.Max)
		soft = min(soft, hard)
	}
	return configs.Rlimit{Type: unix.RLIMIT_NOFILE, Soft: soft, Hard: hard}
}

// networkFiles are bind-mounted from the host into steps that share its
// network (fixed-output steps), so that name resolution works as on the
// host, and TLS trusts what the host trusts: a network behind an
// intercepting proxy has its own CA, which no pinned package carries. As
// with Nix's ssl-cert-file, this is safe because such a step's output is
// checked against its pinned hash.
var networkFiles = []string{"/etc/resolv.conf", "/etc/hosts", "/etc/ssl/certs/ca-certificates.crt"}

func libcontainerMount(m Mount) (*configs.Mount, error) {
	dest := filepath.Clean(m.Dest)
	switch m.Type {
	case "bind":
		flags := unix.MS_BIND | unix.MS_REC
		if m.ReadOnly {
			flags |= unix.MS_RDONLY
		}
		return &configs.Mount{Source: m.Source, Destination: dest, Device: "bind", Flags: flags}, nil
	case "tmpfs":
		mode := m.Mode
		if mode == 0 {
			mode = 0o1777
		}
		data := fmt.Sprintf("mode=%o", mode)
		if m.SizeBytes > 0 {
			data += fmt.Sprintf(",size=%d", m.SizeBytes)
		}
		flags := unix.MS_NOSUID | unix.MS_NODEV
		if m.ReadOnly {
			flags |= unix.MS_RDONLY
		}
		return &configs.Mount{Source: "tmpfs", Destination: dest, Device: "tmpfs", Flags: flags, Data: data}, nil
	case "overlay":
		if m.Upper == "" && len(m.Lowers) == 1 {
			// overlayfs wants two layers when it has no upper; one layer
			// read-only is a bind mount.
			return &configs.Mount{Source: m.Lowers[0], Destination: dest, Device: "bind", Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY}, nil
		}
		// mountInputs mounts the others on kiln's side and binds them in.
		return nil, fmt.Errorf("mount at %s: overlay was not mounted before the container", dest)
	}
	return nil, fmt.Errorf("unknown mount type %q", m.Type)
}

// oomKilled reads the kernel's OOM-kill counter of the container's memory
// cgroup; a counter rather than an event, so it cannot be missed.
func oomKilled(c *libcontainer.Container) bool {
	st, err := c.State()
	if err != nil {
		return false
	}
	if p := st.CgroupPaths["memory"]; p != "" {
		return counterAbove(filepath.Join(p, "memory.oom_control"), "oom_kill")
	}
	if p := st.CgroupPaths[""]; p != "" { // cgroup v2
		return counterAbove(filepath.Join(p, "memory.events"), "oom_kill")
	}
	return false
}

func counterAbove(file, key string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n > 0
		}
	}
	return false
}

// narrowedAffinity lists the CPUs this process may run on ("0,3") when
// that is fewer than the machine has online, else "". Without a cpuset
// controller nothing resets the affinity, and asking for a cpuset would
// fail the step, so it is "" there too.
func narrowedAffinity() string {
	if !hasCpuset() {
		return ""
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return ""
	}
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil || set.Count() >= countCPUList(strings.TrimSpace(string(online))) {
		return ""
	}
	var cpus []string
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, strconv.Itoa(i))
		}
	}
	return strings.Join(cpus, ",")
}

// countCPUList counts the CPUs of a kernel CPU list such as "0-3,8".
func countCPUList(s string) int {
	n := 0
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		n += b - a + 1
	}
	return n
}

func hasCpuset() bool {
	if cgroups.IsCgroup2UnifiedMode() {
		b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		return err == nil && slices.Contains(strings.Fields(string(b)), "cpuset")
	}
	_, err := os.Stat("/sys/fs/cgroup/cpuset")
	return err == nil
}
