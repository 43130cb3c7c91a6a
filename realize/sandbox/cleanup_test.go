package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/realize/sandbox"
	"golang.org/x/sys/unix"
)

// childMode lets tests re-run the test binary as a helper process.
const childMode = "KILN_SANDBOX_TEST_CHILD"

func init() {
	switch os.Getenv(childMode) {
	case "":
		return
	case "check":
		fmt.Println(sandbox.Check())
	case "run":
		// Args: upper work state lower.
		a := strings.Split(os.Getenv("KILN_SANDBOX_TEST_ARGS"), ",")
		_, err := sandbox.Run(context.Background(), sandbox.Spec{
			ID: "cleanup-child", Lowers: []string{a[3]}, Upper: a[0], Work: a[1], StateDir: a[2],
			Args: []string{"sleep", "100"}, Env: testEnv,
		})
		fmt.Println(err)
	case "parallel":
		// Args: dir lower.
		a := strings.Split(os.Getenv("KILN_SANDBOX_TEST_ARGS"), ",")
		fmt.Println(parallelRuns(a[0], a[1]))
	}
	os.Exit(0)
}

// parallelRuns runs six steps, two at a time, and says how they went.
func parallelRuns(dir, lower string) string {
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	sem := make(chan struct{}, 2)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d := filepath.Join(dir, strconv.Itoa(i))
			upper, work := filepath.Join(d, "upper"), filepath.Join(d, "work")
			os.MkdirAll(upper, 0o755)
			os.MkdirAll(work, 0o755)
			res, err := sandbox.Run(context.Background(), sandbox.Spec{
				ID: "parallel-child-" + strconv.Itoa(i), Lowers: []string{lower}, Upper: upper, Work: work,
				StateDir: filepath.Join(d, "state"), Args: []string{"true"}, Env: testEnv,
			})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d", res.ExitCode)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	var out []string
	for err := range errs {
		if err != nil {
			out = append(out, err.Error())
		}
	}
	if len(out) == 0 {
		return "ok"
	}
	return strings.Join(out, "\n")
}

// TestParallelRunsInFreshProcess runs steps two at a time in a process
// that has not used cgroups before: the cgroups package keeps a handle on
// /sys/fs/cgroup from its first use, which must not be made from a step's
// private mount namespace (gone with the step), or every later step fails
// to find its cgroup files.
func TestParallelRunsInFreshProcess(t *testing.T) {
	testutil.RequireRoot(t)
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = []string{childMode + "=parallel", "KILN_SANDBOX_TEST_ARGS=" + t.TempDir() + "," + busyboxRoot(t)}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("%v: %s", err, out)
	}
}

// TestCheckAsNonRoot runs the test binary as nobody: Check must refuse and
// say what is needed.
func TestCheckAsNonRoot(t *testing.T) {
	testutil.RequireRoot(t)
	// t.TempDir's parent is 0700: nobody could not reach the binary.
	dir, err := os.MkdirTemp("", "kiln-sandbox-check-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "sandbox.test")
	copyFile(t, "/proc/self/exe", exe)
	cmd := exec.Command(exe)
	cmd.Env = []string{childMode + "=check"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := "kiln needs root to run build steps in a sandbox (namespaces, overlayfs, cgroups); run as root, e.g. with sudo"
	if !strings.Contains(string(out), want) {
		t.Errorf("Check as nobody said %q", out)
	}
}

func copyFile(t *testing.T, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCleanupAfterKill kills a kiln-like process with SIGKILL while its
// step runs: the step must die with it, and Cleanup must leave no cgroup,
// mount or state behind, while a live process's state is left alone.
func TestCleanupAfterKill(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	dir := t.TempDir()
	upper, work, state := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(root, "run1")
	os.Mkdir(upper, 0o755)
	os.Mkdir(work, 0o755)
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = []string{childMode + "=run", "KILN_SANDBOX_TEST_ARGS=" + strings.Join([]string{upper, work, state, busyboxRoot(t)}, ",")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cgroups := cgroupDirs(t, cmd.Process.Pid, "cleanup-child")
	procs := filepath.Join(cgroups[0], "cgroup.procs")
	// Kill during the step proper, once the init has become "sleep".
	var step int
	deadline := time.Now().Add(10 * time.Second)
	for step == 0 {
		data, _ := os.ReadFile(procs)
		for _, pid := range strings.Fields(string(data)) {
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			if strings.HasPrefix(string(cmdline), "sleep") {
				fmt.Sscan(pid, &step)
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child's step never ran its command")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); unix.Kill(step, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("step %d survived its kiln", step)
		}
	}

	// A stale root mount, as left by a kiln killed while starting a step,
	// and a state directory of a live process.
	stale := filepath.Join(root, "run2")
	os.MkdirAll(filepath.Join(stale, "rootfs"), 0o755)
	os.WriteFile(filepath.Join(stale, "kiln-sandbox-owner"), []byte("999999999 1\n"), 0o600)
	if err := unix.Mount("tmpfs", filepath.Join(stale, "rootfs"), "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(root, "run3")
	os.Mkdir(live, 0o755)
	start, _ := os.ReadFile("/proc/self/stat")
	fields := strings.Fields(string(start)[strings.LastIndexByte(string(start), ')')+1:])
	os.WriteFile(filepath.Join(live, "kiln-sandbox-owner"), []byte(fmt.Sprintf("%d %s\n", os.Getpid(), fields[19])), 0o600)
	other := filepath.Join(root, "not-a-sandbox")
	os.Mkdir(other, 0o755)

	if err := sandbox.Cleanup(root); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	for _, d := range append(cgroups, state, stale) {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left behind after Cleanup", d)
		}
	}
	for _, d := range []string{live, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("Cleanup removed %s: %v", d, err)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), root) {
		t.Errorf("mount left behind:\n%s", mi)
	}
}

// TestMountsArePrivate: the step's root and input overlays are mounted in
// a mount namespace of Run's own, never in the host's, where a kiln killed
// while the step started used to leave them mounted in the store. The host's
// mount table is watched for the whole of a run.
func TestMountsArePrivate(t *testing.T) {
	spec, stdout, stderr := newSpec(t, "sh", "-c", "cat /in/f")
	in := t.TempDir()
	os.WriteFile(filepath.Join(in, "f"), []byte("input\n"), 0o644)
	spec.Mounts = []sandbox.Mount{{Type: "overlay", Dest: "/in", Lowers: []string{busyboxRoot(t), in}, ReadOnly: true}}
	stop := make(chan struct{})
	seen := make(chan string, 1)
	go func() {
		defer close(seen)
		// The host's table as this thread sees it, not /proc/self's: that
		// is the main thread's view, and libcontainer's mount-source
		// goroutine locks whatever thread it lands on, the main thread
		// included, and joins the container's mount namespace for good
		// (Go wedges a main thread left locked). This thread stays in the
		// namespace the test started in.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mi, _ := os.ReadFile("/proc/thread-self/mountinfo")
			for _, l := range strings.Split(string(mi), "\n") {
				if strings.Contains(l, filepath.Dir(spec.StateDir)) {
					seen <- l
					return
				}
			}
		}
	}()
	res := run(t, spec)
	close(stop)
	if l, ok := <-seen; ok {
		t.Errorf("a step's mount showed in the host's mount table: %s", l)
	}
	if res.ExitCode != 0 || stdout.String() != "input\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", res.ExitCode, stdout, stderr)
	}
}
