package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kiln-build/kiln/internal/testutil"
)

// rootlessRows are kiln's per-step overhead and no-op rebuild as a normal
// user, and runc run --rootless's per-step time as that user.
type rootlessRows struct {
	step, noop, runcStep time.Duration
}

// measureRootless runs the chain as name (setpriv): cold builds in fresh
// stores minus the source alone, no-op rebuilds, and runc --rootless
// running the same commands.
func measureRootless(work, name string) *rootlessRows {
	u, err := user.Lookup(name)
	check(err)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	ru := testutil.RootlessUser{Name: name, UID: uid, GID: gid}
	dir := filepath.Join(work, "rootless")
	check(os.MkdirAll(dir, 0o755))
	check(os.Chmod(work, 0o755))
	check(os.Chmod(filepath.Dir(*kilnBin), 0o755))
	chain := writeProject(dir, "chain", chainHCL())
	check(testutil.ChownTree(dir, ru))
	run := func(store string, args ...string) {
		argv := testutil.AsUserCommand(ru, append([]string{*kilnBin}, args...)...)
		c := exec.Command(argv[0], argv[1:]...)
		c.Dir = chain
		c.Env = append(os.Environ(), "KILN_STORE="+filepath.Join(dir, "stores", store), "HOME="+dir, "CI=", "KILN_TIMING=", "KILN_TRACE=")
		if out, err := c.CombinedOutput(); err != nil {
			fail(fmt.Sprintf("kiln %v as %s: %v\n%s", args, name, err, out))
		}
	}
	var src, cold []time.Duration
	for i := range *reps {
		start := time.Now()
		run(fmt.Sprintf("src%d", i), "build", "--progress", "quiet", "stage.src")
		src = append(src, time.Since(start))
		start = time.Now()
		run(fmt.Sprintf("chain%d", i), "build", "--progress", "quiet", "stage.chain")
		cold = append(cold, time.Since(start))
	}
	rows := &rootlessRows{step: (median(cold) - median(src)) / chainSteps}
	run("chain0", "build", "--progress", "quiet", "stage.chain")
	rows.noop = timeRuns(*noops, func() { run("chain0", "build", "--progress", "quiet", "stage.chain") })
	rows.runcStep = runcRootless(dir, ru)
	return rows
}

// runcRootless times runc run --rootless as u, per step of the chain: a
// bundle as `runc spec --rootless` makes it (u is root of a user namespace
// mapping only itself), on a plain writable busybox root, since an
// unprivileged runc cannot mount the overlay kiln mounts in its namespace.
func runcRootless(dir string, u testutil.RootlessUser) time.Duration {
	b := filepath.Join(dir, "runc-bundle")
	check(testutil.WriteBusyboxRootfs(filepath.Join(b, "rootfs"), testutil.BusyboxPath))
	var ds []time.Duration
	for rep := range *reps {
		start := time.Now()
		for i := range chainSteps {
			writeRootlessConfig(b, u, []string{"/bin/sh", "-c", fmt.Sprintf("echo %d >> /log", i)})
			check(testutil.ChownTree(b, u))
			id := fmt.Sprintf("kiln-bench-rl-%d-%d-%d", os.Getpid(), rep, i)
			argv := testutil.AsUserCommand(u, *runcBin, "--root", filepath.Join(dir, "runc-state"), "run", "--bundle", b, id)
			c := exec.Command(argv[0], argv[1:]...)
			c.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir)
			if out, err := c.CombinedOutput(); err != nil {
				fail(fmt.Sprintf("runc run --rootless as %s: %v\n%s", u.Name, err, out))
			}
		}
		ds = append(ds, time.Since(start)/chainSteps)
	}
	return median(ds)
}

func writeRootlessConfig(bundle string, u testutil.RootlessUser, args []string) {
	writeConfig(bundle, args)
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	check(err)
	var spec specs.Spec
	check(json.Unmarshal(data, &spec))
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(u.UID), Size: 1}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(u.GID), Size: 1}}
	// As runc spec --rootless: devpts without gid=5 (unmapped), no
	// resource limits.
	for i, m := range spec.Mounts {
		if m.Destination == "/dev/pts" {
			spec.Mounts[i].Options = []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
		}
	}
	spec.Process.Rlimits = nil
	data, err = json.Marshal(spec)
	check(err)
	check(os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644))
}
