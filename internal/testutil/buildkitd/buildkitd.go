// Package buildkitd starts BuildKit daemons for tests, and builds the
// kiln-buildkit helper kiln needs to use them: buildkitd and
// buildctl are built once, at the release internal/tools/buildkit pins,
// into a cache outside the repository (scripts/buildkit-tools.sh), and each
// daemon runs as root with the OCI worker (runc) on a unix socket in a
// temporary directory, stopped when the test ends.
package buildkitd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

var (
	toolsOnce sync.Once
	toolsDir  string
	toolsErr  error
)

// Tools returns the directory holding buildkitd and buildctl, building
// them on first use (minutes) unless KILN_BUILDKIT_TOOLS names it.
func Tools(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("buildkitd with the OCI worker needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatal("buildkitd's OCI worker needs runc in PATH: run scripts/deps.sh (apt-get install runc)")
	}
	toolsOnce.Do(func() {
		if d := os.Getenv("KILN_BUILDKIT_TOOLS"); d != "" {
			toolsDir = d
			return
		}
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "buildkit-tools.sh")
		cmd := exec.Command("sh", script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			toolsErr = fmt.Errorf("building buildkitd and buildctl (%s): %v\n%s", script, err, stderr.String())
			return
		}
		toolsDir = strings.TrimSpace(string(out))
	})
	if toolsErr != nil {
		t.Fatal(toolsErr)
	}
	return toolsDir
}

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// BuildHelper builds kiln-buildkit, the helper kiln runs BuildKit steps
// and `kiln llb` through, once per test process into a temporary
// directory, and sets KILN_BUILDKIT_HELPER to it for this process and
// the kiln processes it starts. It returns the helper's path.
func BuildHelper() (string, error) {
	helperOnce.Do(func() {
		if p := os.Getenv("KILN_BUILDKIT_HELPER"); p != "" {
			helperPath = p
			return
		}
		dir, err := os.MkdirTemp("", "kiln-buildkit-helper-")
		if err != nil {
			helperErr = err
			return
		}
		bin := filepath.Join(dir, "kiln-buildkit")
		if err := testutil.GoBuild("./cmd/kiln-buildkit", bin); err != nil {
			helperErr = err
			return
		}
		helperPath = bin
		helperErr = os.Setenv("KILN_BUILDKIT_HELPER", bin)
	})
	return helperPath, helperErr
}

// Helper is BuildHelper for a test, which fails when the build does.
func Helper(t testing.TB) string {
	t.Helper()
	p, err := BuildHelper()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Daemon is one running buildkitd.
type Daemon struct {
	// Addr is its address for buildctl --addr and kiln --buildkit.
	Addr string
	// Buildctl is the path of buildctl.
	Buildctl string
	root     string
	cmd      *exec.Cmd
	done     chan struct{}
	log      *bytes.Buffer
	mu       sync.Mutex
}

// Start starts a daemon that the test stops at its end. It allows the
// network.host and security.insecure entitlements, which kiln's
// fixed-output and insecure steps ask for. args are more buildkitd flags
// (another --addr, TLS files); "--no-entitlements" (not buildkitd's)
// starts it without the two entitlements.
func Start(t testing.TB, args ...string) *Daemon {
	t.Helper()
	tools := Tools(t)
	// A kiln that a test points at this daemon runs its steps through
	// kiln-buildkit.
	Helper(t)
	dir, err := os.MkdirTemp("", "kiln-buildkitd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "buildkitd.sock")
	d := &Daemon{Addr: "unix://" + sock, Buildctl: filepath.Join(tools, "buildctl"), done: make(chan struct{}), log: &bytes.Buffer{}, root: filepath.Join(dir, "root")}
	cmd := exec.Command(filepath.Join(tools, "buildkitd"),
		"--addr", d.Addr,
		"--root", d.root,
		"--oci-worker=true", "--containerd-worker=false",
		"--oci-worker-snapshotter=overlayfs",
	)
	if !slices.Contains(args, "--no-entitlements") {
		cmd.Args = append(cmd.Args, "--allow-insecure-entitlement=network.host", "--allow-insecure-entitlement=security.insecure")
	}
	for _, a := range args {
		if a != "--no-entitlements" {
			cmd.Args = append(cmd.Args, a)
		}
	}
	// Its own XDG dirs and a config that does not exist: nothing of this
	// machine's BuildKit set-up is read.
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	cmd.Stdout = lockedWriter{d}
	cmd.Stderr = lockedWriter{d}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.cmd = cmd
	go func() { cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.Stop()
		// Unmount what a killed daemon left mounted under its root, so
		// the temporary directory can go.
		unmountUnder(dir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		out, err := exec.CommandContext(ctx, d.Buildctl, "--addr", d.Addr, "debug", "workers").CombinedOutput()
		if err == nil && bytes.Contains(out, []byte("linux/amd64")) {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("buildkitd exited at start:\n%s", d.Log())
		case <-ctx.Done():
			t.Fatalf("buildkitd did not answer within 2m: %v\n%s\n%s", err, out, d.Log())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type lockedWriter struct{ d *Daemon }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.log.Write(p)
}

// Log is what the daemon printed so far.
func (d *Daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// Running is the number of containers the daemon runs now: runc's
// state directories under the OCI worker's executor root.
func (d *Daemon) Running() int {
	ents, _ := os.ReadDir(filepath.Join(d.root, "runc-overlayfs", "executor"))
	n := 0
	for _, e := range ents {
		if e.IsDir() {
			n++
		}
	}
	return n
}

// Kill kills the daemon at once, as a crash would.
func (d *Daemon) Kill() {
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
}

// Freeze stops the daemon and its steps (SIGSTOP) without closing any
// connection, as a machine that vanishes from the network looks to a
// client: nothing answers and nothing is reset. Stop thaws it first.
func (d *Daemon) Freeze() {
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGSTOP)
}

// Stop stops the daemon, gently first.
func (d *Daemon) Stop() {
	select {
	case <-d.done:
		return
	default:
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGCONT)
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.Kill()
	}
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}
