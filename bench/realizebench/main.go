// Command realizebench measures kiln's realizer against `runc run` doing the
// same work in the same run, and prints one table: the per-step overhead
// of a chain of 20 exec steps, 16 independent 4 MiB steps merged into one
// state, and no-op rebuilds (the chain, the fan, a generated graph of 1,001
// derivations) end to end, process start included. bench/realize.sh builds
// kiln and runs it as root.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/testutil"
)

var (
	kilnBin = flag.String("kiln", "kiln", "the kiln binary to measure")
	runcBin = flag.String("runc", "/usr/sbin/runc", "the runc binary of the baseline")
	reps    = flag.Int("reps", 3, "cold builds of each workload (the median is shown)")
	noops   = flag.Int("noops", 20, "no-op rebuilds of each workload (the median is shown)")
	keep    = flag.Bool("keep", false, "keep the work directory")
	copySn  = flag.Bool("copy", false, "also measure the chain with the copy snapshotter (KILN_SNAPSHOTTER=copy) against overlayfs")
	asUser  = flag.String("user", "", "also measure kiln run by this unprivileged user (with a subuid range), against `runc run --rootless` as that user")
	// bench/peers.sh interleaves kiln, BuildKit and the floor itself: it
	// takes the same projects and one floor measurement at a time.
	projects = flag.String("projects", "", "only write the chain, fan and graph projects into this directory")
	floorOf  = flag.String("floor", "", "only run runc once on the chain (print seconds per step) or the fan (print seconds)")
)

const (
	chainSteps = 20
	fanStages  = 16
	graphSt    = 100
	graphSteps = 10
)

// env is the fixed environment of steps, the same for kiln and runc.
var env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TZ=UTC", "LANG=C.UTF-8", "SOURCE_DATE_EPOCH=1700000000"}

func main() {
	flag.Parse()
	if os.Geteuid() != 0 {
		fail("realizebench needs root: sandboxes and runc need it")
	}
	if *projects != "" {
		writeProject(*projects, "chain", chainHCL())
		writeProject(*projects, "fan", fanHCL())
		graph := writeProject(*projects, "graph", graphHCL())
		check(os.WriteFile(filepath.Join(graph, "data", "f"), []byte("data\n"), 0o644))
		return
	}
	work, err := os.MkdirTemp("", "kiln-realizebench-")
	check(err)
	if !*keep {
		defer os.RemoveAll(work)
	}
	lower := filepath.Join(work, "base", "rootfs")
	check(testutil.WriteBusyboxRootfs(lower, testutil.BusyboxPath))
	if *floorOf != "" {
		rc := newRunc(work, lower)
		switch *floorOf {
		case "chain":
			start := time.Now()
			for i := range chainSteps {
				rc.run(fmt.Sprintf("echo %d >> /log", i))
			}
			fmt.Printf("%.6f\n", time.Since(start).Seconds()/chainSteps)
		case "fan":
			fmt.Printf("%.6f\n", rc.fan().Seconds())
		default:
			fail("-floor takes chain or fan")
		}
		os.RemoveAll(work)
		return
	}
	chain := writeProject(work, "chain", chainHCL())
	fan := writeProject(work, "fan", fanHCL())
	graph := writeProject(work, "graph", graphHCL())
	check(os.WriteFile(filepath.Join(graph, "data", "f"), []byte("data\n"), 0o644))

	// Cold builds, each in a fresh store; the source alone is subtracted so
	// that what remains is the exec steps (and the copies of the fan).
	var src, chainCold, fanCold []time.Duration
	for i := range *reps {
		src = append(src, coldBuild(work, chain, fmt.Sprintf("src%d", i), "stage.src"))
		chainCold = append(chainCold, coldBuild(work, chain, fmt.Sprintf("chain%d", i), "stage.chain"))
		fanCold = append(fanCold, coldBuild(work, fan, fmt.Sprintf("fan%d", i), "stage.all"))
	}
	srcMed := median(src)
	kStep := (median(chainCold) - srcMed) / chainSteps
	kFan := median(fanCold) - srcMed

	// runc: the same commands on an overlay of the same busybox root, the
	// overlay mounted and unmounted around each run as kiln does.
	rc := newRunc(work, lower)
	var rStep, rFan []time.Duration
	for range *reps {
		start := time.Now()
		for i := range chainSteps {
			rc.run(fmt.Sprintf("echo %d >> /log", i))
		}
		rStep = append(rStep, time.Since(start)/chainSteps)
		rFan = append(rFan, rc.fan())
	}

	// No-op rebuilds, in the stores the cold builds filled.
	store := func(name string) string { return filepath.Join(work, "stores", name) }
	noopChain, cpuChain := noop(chain, store("chain0"), "stage.chain")
	noopFan, cpuFan := noop(fan, store("fan0"), "stage.all")
	coldBuild(work, graph, "graph", "all")
	noopGraph, cpuGraph := noop(graph, store("graph"), "all")
	floor, cpuFloor := timeKiln(func() { kiln(chain, store("chain0"), "version") })
	// The copy snapshotter: the same chain and source, each step's root
	// copied from its layers and diffed back instead of mounted.
	var cStep time.Duration
	if *copySn {
		kilnEnv = []string{"KILN_SNAPSHOTTER=copy"}
		var csrc, cchain []time.Duration
		for i := range *reps {
			csrc = append(csrc, coldBuild(work, chain, fmt.Sprintf("csrc%d", i), "stage.src"))
			cchain = append(cchain, coldBuild(work, chain, fmt.Sprintf("cchain%d", i), "stage.chain"))
		}
		kilnEnv = nil
		cStep = (median(cchain) - median(csrc)) / chainSteps
	}
	var rl *rootlessRows
	if *asUser != "" {
		rl = measureRootless(work, *asUser)
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "workload\tkiln\tkiln CPU\trunc run\tkiln/runc\ttarget\tmet\t\n")
	cpuOf := map[string]time.Duration{}
	row := func(name string, k, r time.Duration, target string, ok bool) {
		rs, ratio := "-", "-"
		if r > 0 {
			rs, ratio = ms(r), fmt.Sprintf("%.2fx", float64(k)/float64(r))
		}
		met := "yes"
		if !ok {
			met = "NO"
		}
		if target == "" {
			met = ""
		}
		cs := "-"
		if c, ok := cpuOf[name]; ok {
			cs = ms(c)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, ms(k), cs, rs, ratio, target, met)
	}
	// Issue 20's bound: 0.8x Nix's 101 ms per sandboxed step, measured on
	// machines where a bare `runc run` took 119 ms: 0.68x runc in the same
	// run, which stays meaningful on a loaded machine.
	row(fmt.Sprintf("chain: per exec step (%d steps)", chainSteps), kStep, median(rStep), "<= 0.68x runc", float64(kStep) <= 0.68*float64(median(rStep)))
	row(fmt.Sprintf("fan: %d x 4 MiB steps, merged", fanStages), kFan, median(rFan), "", true)
	// The no-op targets are half of Nix's 70 ms for the chain and the fan
	// (issue 20) and 50 ms for the graph.
	graphRow := fmt.Sprintf("no-op rebuild: %d derivations", graphSt*graphSteps+1)
	cpuOf["no-op rebuild: chain"], cpuOf["no-op rebuild: fan"], cpuOf[graphRow], cpuOf["floor: kiln version"] = cpuChain, cpuFan, cpuGraph, cpuFloor
	row("no-op rebuild: chain", noopChain, 0, "<= 35 ms", noopChain <= 35*time.Millisecond)
	row("no-op rebuild: fan", noopFan, 0, "<= 35 ms", noopFan <= 35*time.Millisecond)
	row(graphRow, noopGraph, 0, "<= 50 ms", noopGraph <= 50*time.Millisecond)
	row("floor: kiln version", floor, 0, "", true)
	if *copySn {
		row("copy snapshotter: per exec step", cStep, median(rStep), "", true)
		row("copy snapshotter: per exec step vs overlay", cStep, kStep, "", true)
	}
	if rl != nil {
		row(fmt.Sprintf("rootless (%s): per exec step", *asUser), rl.step, rl.runcStep, "", true)
		row("rootless: per exec step vs root kiln", rl.step, kStep, "", true)
		row("rootless: no-op rebuild: chain", rl.noop, noopChain, "", true)
	}
	tw.Flush()
	if *copySn {
		fmt.Printf("\ncopy snapshotter rows: kiln with KILN_SNAPSHOTTER=copy (the chain's busybox root copied for every step) against runc, and against kiln on overlayfs (copy, overlay, copy/overlay)\n")
	}
	if rl != nil {
		fmt.Printf("\nrootless rows: kiln as %s (in its user namespace, no cgroup limits on cgroup v1) against runc run --rootless as %s on a plain rootfs (no overlay), and against root kiln (last two rows: rootless, root, rootless/root)\n", *asUser, *asUser)
	}
	fmt.Printf("\nmedians of %d cold builds (fresh stores; the source alone, %s, subtracted) and of %d no-op runs; %d CPUs; load average %s\n",
		*reps, ms(srcMed), *noops, runtime.NumCPU(), loadavg())
	fmt.Printf("kiln CPU: user+system time of the kiln process (median), which a loaded machine inflates less than the wall time\n")
}

func chainHCL() string {
	var b strings.Builder
	b.WriteString(header + "stage \"src\" {\n  from = source.local.busybox\n}\n\nstage \"chain\" {\n  from = source.local.busybox\n")
	for i := range chainSteps {
		fmt.Fprintf(&b, "  run {\n    shell = \"echo %d >> /log\"\n  }\n", i)
	}
	b.WriteString("}\n")
	return b.String()
}

// fanCommand writes 4 MiB that differ between stages.
func fanCommand(i int) string {
	return fmt.Sprintf("dd if=/dev/zero of=/out bs=1M count=4 2>/dev/null; echo %d | dd of=/out conv=notrunc 2>/dev/null", i)
}

func fanHCL() string {
	var b strings.Builder
	b.WriteString(header)
	for i := range fanStages {
		fmt.Fprintf(&b, "stage \"f%02d\" {\n  from = source.local.busybox\n  run {\n    shell = %q\n  }\n}\n\n", i, fanCommand(i))
	}
	b.WriteString("stage \"all\" {\n  from = source.local.busybox\n")
	for i := range fanStages {
		fmt.Fprintf(&b, "  copy {\n    from = stage.f%02d\n    src  = [\"/out\"]\n    dest = \"/out%02d\"\n  }\n", i, i)
	}
	b.WriteString("}\n")
	return b.String()
}

func graphHCL() string {
	var b strings.Builder
	b.WriteString(header + "source \"local\" \"data\" {\n  path = \"data\"\n}\n\n")
	for i := range graphSt {
		fmt.Fprintf(&b, "stage \"s%03d\" {\n  from = source.local.data\n", i)
		for j := range graphSteps {
			fmt.Fprintf(&b, "  file {\n    path    = \"/f%d\"\n    content = \"stage %d step %d\\n\"\n  }\n", j, i, j)
		}
		b.WriteString("}\n")
	}
	fmt.Fprintf(&b, "group \"all\" {\n  targets = [%s]\n}\n", strings.Join(quoteAll(graphTargets()), ", "))
	return b.String()
}

func graphTargets() []string {
	var ts []string
	for i := range graphSt {
		ts = append(ts, fmt.Sprintf("stage.s%03d", i))
	}
	return ts
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

const header = `kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

`

func writeProject(work, name, hcl string) string {
	dir := filepath.Join(work, name)
	check(os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	check(os.WriteFile(filepath.Join(dir, "build.hcl"), []byte(hcl), 0o644))
	check(testutil.WriteBusyboxRootfs(filepath.Join(dir, "base", "rootfs"), testutil.BusyboxPath))
	return dir
}

// kilnEnv is added to kiln's environment (the copy snapshotter's rows).
var kilnEnv []string

// lastCPU is the user and system time of the last kiln run.
var lastCPU time.Duration

// kiln runs kiln in dir on store and fails the benchmark if it fails.
func kiln(dir, store string, args ...string) {
	c := exec.Command(*kilnBin, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "KILN_STORE="+store, "CI=", "KILN_TIMING=", "KILN_TRACE=")
	c.Env = append(c.Env, kilnEnv...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		fail(fmt.Sprintf("kiln %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out.String()))
	}
	lastCPU = c.ProcessState.UserTime() + c.ProcessState.SystemTime()
}

func coldBuild(work, dir, store string, targets ...string) time.Duration {
	st := filepath.Join(work, "stores", store)
	start := time.Now()
	kiln(dir, st, append([]string{"build", "--progress", "quiet"}, targets...)...)
	return time.Since(start)
}

// noop times no-op rebuilds: the median wall time and CPU time.
func noop(dir, store string, targets ...string) (time.Duration, time.Duration) {
	args := append([]string{"build", "--progress", "quiet"}, targets...)
	kiln(dir, store, args...) // warm the page cache and the stat cache
	return timeKiln(func() { kiln(dir, store, args...) })
}

// timeKiln runs f, which runs kiln once, *noops times: the median wall
// time and the median CPU time of the kiln processes.
func timeKiln(f func()) (time.Duration, time.Duration) {
	var cpu []time.Duration
	wall := timeRuns(*noops, func() {
		f()
		cpu = append(cpu, lastCPU)
	})
	return wall, median(cpu)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func timeRuns(n int, f func()) time.Duration {
	var ds []time.Duration
	for range n {
		start := time.Now()
		f()
		ds = append(ds, time.Since(start))
	}
	return median(ds)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// runcBench runs commands with runc on overlays of one lower directory.
type runcBench struct {
	dir, lower string
	mu         sync.Mutex
	n          int
}

func newRunc(work, lower string) *runcBench {
	if _, err := os.Stat(*runcBin); err != nil {
		fail(fmt.Sprintf("runc is not installed at %s (apt-get install runc)", *runcBin))
	}
	return &runcBench{dir: filepath.Join(work, "runc"), lower: lower}
}

// run runs sh -c cmd in a new container and returns the upper directory
// holding what it wrote.
func (r *runcBench) run(cmd string) string {
	r.mu.Lock()
	r.n++
	id := fmt.Sprintf("kiln-bench-%d-%d", os.Getpid(), r.n)
	r.mu.Unlock()
	b := filepath.Join(r.dir, id)
	rootfs, upper, wk := filepath.Join(b, "rootfs"), filepath.Join(b, "upper"), filepath.Join(b, "work")
	for _, d := range []string{rootfs, upper, wk} {
		check(os.MkdirAll(d, 0o755))
	}
	writeConfig(b, []string{"/bin/sh", "-c", cmd})
	check(unix.Mount("overlay", rootfs, "overlay", 0, "lowerdir="+r.lower+",upperdir="+upper+",workdir="+wk))
	out, err := exec.Command(*runcBin, "--root", filepath.Join(r.dir, "state"), "run", "--bundle", b, id).CombinedOutput()
	unix.Unmount(rootfs, unix.MNT_DETACH)
	if err != nil {
		fail(fmt.Sprintf("runc run: %v\n%s", err, out))
	}
	return upper
}

// fan runs the fan's 16 commands, as many at once as kiln runs by default
// (the CPU count), then merges their outputs into one directory.
func (r *runcBench) fan() time.Duration {
	start := time.Now()
	uppers := make([]string, fanStages)
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i := range fanStages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			uppers[i] = r.run(fanCommand(i))
		}()
	}
	wg.Wait()
	merged := filepath.Join(r.dir, fmt.Sprintf("merged-%d", r.n))
	check(os.MkdirAll(merged, 0o755))
	for i, u := range uppers {
		if out, err := exec.Command("cp", "-a", filepath.Join(u, "out"), filepath.Join(merged, fmt.Sprintf("out%02d", i))).CombinedOutput(); err != nil {
			fail(fmt.Sprintf("cp: %v\n%s", err, out))
		}
	}
	unix.Sync() // kiln syncs what it stores
	return time.Since(start)
}

// writeConfig writes a runc bundle config with what kiln's sandbox sets
// up: the same namespaces (network included), mounts, capabilities,
// masked paths, umask and hostname.
func writeConfig(bundle string, args []string) {
	caps := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
	umask := uint32(0o022)
	spec := specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: args, Env: env, Cwd: "/",
			User:            specs.User{Umask: &umask},
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			NoNewPrivileges: true,
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}},
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "kiln",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
			},
			ReadonlyPaths:     []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			RootfsPropagation: "rprivate",
		},
	}
	data, err := json.Marshal(spec)
	check(err)
	check(os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644))
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "realizebench:", msg)
	os.Exit(1)
}
