package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/realize/sandbox"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const runcPath = "/usr/sbin/runc"

// BenchmarkSandboxVsRunc runs the same command on the same busybox overlay
// root with sandbox.Run and with the runc binary, alternating, and reports
// both per-step times and their ratio. The runc side also mounts and
// unmounts its overlay each step, as Run does.
//
//	go test ./realize/sandbox -run '^$' -bench SandboxVsRunc -benchtime 50x
func BenchmarkSandboxVsRunc(b *testing.B) {
	testutil.RequireRoot(b)
	if _, err := os.Stat(runcPath); err != nil {
		b.Skipf("runc is not installed at %s (apt-get install runc)", runcPath)
	}
	for _, bc := range []struct {
		name     string
		args     []string
		insecure bool
	}{
		{"true", []string{"/bin/true"}, false},
		{"write", []string{"sh", "-c", "echo hi > /f"}, false},
		{"true-insecure", []string{"/bin/true"}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lower := busyboxRoot(b)
			dir := b.TempDir()
			bundle := filepath.Join(dir, "bundle")
			rootfs := filepath.Join(bundle, "rootfs")
			if err := os.MkdirAll(rootfs, 0o755); err != nil {
				b.Fatal(err)
			}
			writeRuncConfig(b, bundle, bc.args)
			var kiln, runc time.Duration
			for i := 0; b.Loop(); i++ {
				upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")

				os.Mkdir(upper, 0o755)
				os.Mkdir(work, 0o755)
				start := time.Now()
				res, err := sandbox.Run(context.Background(), sandbox.Spec{
					ID: fmt.Sprintf("bench-%d", i), Lowers: []string{lower}, Upper: upper, Work: work,
					StateDir: filepath.Join(dir, "state"), Args: bc.args, Env: testEnv, Insecure: bc.insecure,
				})
				kiln += time.Since(start)
				if err != nil || res.ExitCode != 0 {
					b.Fatalf("kiln: %v, %+v", err, res)
				}
				os.RemoveAll(upper)
				os.RemoveAll(work)

				os.Mkdir(upper, 0o755)
				os.Mkdir(work, 0o755)
				start = time.Now()
				data := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
				if err := unix.Mount("overlay", rootfs, "overlay", 0, data); err != nil {
					b.Fatal(err)
				}
				out, err := exec.Command(runcPath, "--root", filepath.Join(dir, "runc"), "run", "--bundle", bundle, fmt.Sprintf("bench-%d", i)).CombinedOutput()
				unix.Unmount(rootfs, unix.MNT_DETACH)
				runc += time.Since(start)
				if err != nil {
					b.Fatalf("runc: %v: %s", err, out)
				}
				os.RemoveAll(upper)
				os.RemoveAll(work)
			}
			n := float64(b.N)
			kms, rms := float64(kiln.Microseconds())/1000/n, float64(runc.Microseconds())/1000/n
			b.ReportMetric(kms, "kiln-ms/step")
			b.ReportMetric(rms, "runc-ms/step")
			b.ReportMetric(kms/rms, "kiln/runc")
		})
	}
}

// writeRuncConfig writes the runc equivalent of a sandbox.Spec: the same
// namespaces, mounts, capabilities, masked paths, umask and limits, no
// terminal. It has no seccomp filter: the "insecure" cases, whose kiln
// steps have none either, show what kiln's filter costs.
func writeRuncConfig(b *testing.B, bundle string, args []string) {
	caps := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
	var cur unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &cur)
	umask := uint32(0o022)
	spec := specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{
			Args: args, Env: testEnv, Cwd: "/",
			User:            specs.User{Umask: &umask},
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			NoNewPrivileges: true,
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: min(524288, cur.Max)}},
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "kiln",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
				"/sys/firmware", "/sys/devices/virtual/powercap",
			},
			ReadonlyPaths:     []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			RootfsPropagation: "rprivate",
		},
	}
	data, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
}
