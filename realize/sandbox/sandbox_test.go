package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/realize/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Init()
	sandbox.InitRolesForTest()
	// Steps start kiln-init, as they do for an installed kiln, unless
	// KILN_INIT was set (TestFallbackInit sets it to a missing file).
	if _, err := testutil.BuildInit(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !sandbox.SeccompSupported() {
		fmt.Fprintln(os.Stderr, "note: built without seccomp support, so every default step fails; run the tests with GOFLAGS=-tags=seccomp, as scripts/test.sh does")
	}
	code := m.Run()
	testutil.RemoveInit()
	for _, dir := range []string{busybox, probeDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

var testEnv = []string{
	"PATH=/usr/bin:/bin",
	"HOME=/root",
	"TZ=UTC",
	"LANG=C.UTF-8",
	"SOURCE_DATE_EPOCH=0",
}

// newSpec returns a spec over the busybox root with fresh upper, work and
// state directories; busybox is built once per test binary.
func newSpec(t *testing.T, args ...string) (sandbox.Spec, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	spec := sandbox.Spec{
		ID:       strings.NewReplacer("/", "_").Replace(t.Name()),
		Lowers:   []string{busyboxRoot(t)},
		Upper:    filepath.Join(dir, "upper"),
		Work:     filepath.Join(dir, "work"),
		StateDir: filepath.Join(dir, "state", "run"),
		Args:     args,
		Env:      testEnv,
		Hostname: "kiln-test",
	}
	for _, d := range []string{spec.Upper, spec.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	spec.Stdout, spec.Stderr = &stdout, &stderr
	return spec, &stdout, &stderr
}

var busybox string

func busyboxRoot(t testing.TB) string {
	t.Helper()
	if busybox == "" {
		dir, err := os.MkdirTemp("", "kiln-sandbox-busybox-")
		if err != nil {
			t.Fatal(err)
		}
		if err := testutil.WriteBusyboxRootfs(dir, testutil.Busybox(t)); err != nil {
			t.Fatal(err)
		}
		// MkdirTemp's 0700 would keep non-root users out of "/".
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		busybox = dir
	}
	return busybox
}

func run(t *testing.T, spec sandbox.Spec) sandbox.Result {
	t.Helper()
	res, err := sandbox.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestOutputAndExitCode(t *testing.T) {
	spec, stdout, stderr := newSpec(t, "sh", "-c", "echo out; echo err >&2; exit 3")
	res := run(t, spec)
	if res.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", res.ExitCode)
	}
	if stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Errorf("stdout %q stderr %q, want \"out\\n\" and \"err\\n\"", stdout, stderr)
	}
	if _, err := os.Stat(spec.StateDir); !os.IsNotExist(err) {
		t.Errorf("state dir left behind: %v", err)
	}
}

// tree lists the paths under dir, relative and sorted, with a type marker
// for anything that is not a regular file.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestMissingCommandIsExit127(t *testing.T) {
	for _, cmd := range []string{"no-such-command", "/no/such/path"} {
		spec, _, stderr := newSpec(t, cmd)
		res := run(t, spec)
		if res.ExitCode != 127 || !strings.Contains(stderr.String(), cmd+": command not found") {
			t.Errorf("%s: exit %d, stderr %q; want 127 and a not-found message", cmd, res.ExitCode, stderr)
		}
	}
}

func TestWritesLandInUpperOnly(t *testing.T) {
	// A host umask that would give 0600 files must not reach the step.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	spec, _, stderr := newSpec(t, "sh", "-c", "echo hi > /f && mkdir -p /a/b && echo x > /a/b/c && touch /tmp/t")
	if res := run(t, spec); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, stderr)
	}
	want := []string{"a/", "a/b/", "a/b/c", "f", "tmp/", "tmp/t"}
	if diff := cmp.Diff(want, tree(t, spec.Upper)); diff != "" {
		t.Errorf("upper (-want +got):\n%s", diff)
	}
	for path, mode := range map[string]os.FileMode{"f": 0o644, "a/b/c": 0o644, "a": 0o755 | os.ModeDir} {
		fi, err := os.Stat(filepath.Join(spec.Upper, path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s has mode %v, want %v (umask 022)", path, fi.Mode(), mode)
		}
	}
	if _, err := os.Stat(filepath.Join(spec.Lowers[0], "f")); !os.IsNotExist(err) {
		t.Errorf("the step wrote into its lower layer: %v", err)
	}
}

// TestNoMountPointsInUpper: the sandbox's own mount points, for the
// standard mounts, extra mounts and host-network files, must not appear in
// the step's output.
func TestNoMountPointsInUpper(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "file"), []byte("x"), 0o644)
	spec, _, stderr := newSpec(t, "true")
	spec.Network = true
	spec.Mounts = []sandbox.Mount{
		{Type: "bind", Source: host, Dest: "/in/dir", ReadOnly: true},
		{Type: "bind", Source: filepath.Join(host, "file"), Dest: "/etc/in-file", ReadOnly: true},
		{Type: "tmpfs", Dest: "/scratch/tmp"},
	}
	if res := run(t, spec); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, stderr)
	}
	if got := tree(t, spec.Upper); len(got) != 0 {
		t.Errorf("upper after /bin/true has %v, want nothing", got)
	}
}

// TestScratchRoot runs with no layers at all, busybox bind-mounted in.
func TestScratchRoot(t *testing.T) {
	spec, stdout, stderr := newSpec(t, "/bin/busybox", "sh", "-c", "echo hi > /x; /bin/busybox ls /")
	spec.Lowers = nil
	spec.Mounts = []sandbox.Mount{{Type: "bind", Source: testutil.Busybox(t), Dest: "/bin/busybox", ReadOnly: true}}
	if res := run(t, spec); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, stderr)
	}
	if diff := cmp.Diff([]string{"x"}, tree(t, spec.Upper)); diff != "" {
		t.Errorf("upper (-want +got):\n%s", diff)
	}
	if got := strings.Fields(stdout.String()); !slices.Equal(got, []string{"bin", "dev", "proc", "sys", "x"}) {
		t.Errorf("ls / = %v", got)
	}
}

func TestCwdIsCreatedInUpper(t *testing.T) {
	spec, stdout, stderr := newSpec(t, "pwd")
	spec.Cwd = "/work/src"
	if res := run(t, spec); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, stderr)
	}
	if stdout.String() != "/work/src\n" {
		t.Errorf("pwd = %q", stdout)
	}
	if diff := cmp.Diff([]string{"work/", "work/src/"}, tree(t, spec.Upper)); diff != "" {
		t.Errorf("upper (-want +got):\n%s", diff)
	}
}

func TestHostFilesInvisible(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "marker")
	if err := os.WriteFile(marker, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, _, stderr := newSpec(t, "sh", "-c", "test -e "+marker+" && echo visible; test -e /usr/bin/go && echo go; cat /etc/passwd")
	var out bytes.Buffer
	spec.Stdout = &out
	if res := run(t, spec); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, stderr)
	}
	want, _ := os.ReadFile(filepath.Join(spec.Lowers[0], "etc/passwd"))
	if out.String() != string(want) {
		t.Errorf("the step saw host files; output:\n%s", out.String())
	}
}

// hostServer listens on the host's loopback and answers "host".
func hostServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "host") }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// httpGet is a shell pipeline printing the body at url. It uses nc, not
// wget: static busybox's wget calls the resolver, which crashes without
// the NSS configuration a bare busybox root lacks.
func httpGet(url string) string {
	hostport, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	host, port, _ := strings.Cut(hostport, ":")
	return `printf 'GET /` + path + ` HTTP/1.0\r\n\r\n' | nc -w 2 ` + host + ` ` + port + ` | sed '1,/^\r*$/d' | grep .`
}

func TestNoNetwork(t *testing.T) {
	url := hostServer(t)
	script := httpGet(url) + ` && echo reached-host
mkdir /www && echo inside > /www/index.html && httpd -p 127.0.0.1:8080 -h /www && ` + httpGet("http://127.0.0.1:8080/index.html") + `
ip -o link | cut -d: -f2`
	spec, stdout, stderr := newSpec(t, "sh", "-c", script)
	if res := run(t, spec); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s\n%s", res.ExitCode, stdout, stderr)
	}
	if got := strings.Fields(stdout.String()); !slices.Equal(got, []string{"inside", "lo"}) {
		t.Errorf("output %q, want the in-container server's answer and only lo (stderr %s)", got, stderr)
	}
}

func TestHostNetwork(t *testing.T) {
	url := hostServer(t)
	spec, stdout, stderr := newSpec(t, "sh", "-c", httpGet(url))
	spec.Network = true
	if res := run(t, spec); res.ExitCode != 0 || stdout.String() != "host\n" {
		t.Fatalf("exit %d, output %q, stderr %s; want the host server's answer", res.ExitCode, stdout, stderr)
	}
}

// TestHostNetworkTrustsHostCAs: a step on the host's network (a
// fixed-output step) sees the host's CA bundle, so TLS works behind an
// intercepting proxy whose CA only the host has; other steps do not.
func TestHostNetworkTrustsHostCAs(t *testing.T) {
	const bundle = "/etc/ssl/certs/ca-certificates.crt"
	want, err := os.ReadFile(bundle)
	if err != nil {
		t.Skipf("the host has no %s: %v", bundle, err)
	}
	spec, stdout, stderr := newSpec(t, "sh", "-c", "cat "+bundle)
	spec.Network = true
	if res := run(t, spec); res.ExitCode != 0 || stdout.String() != string(want) {
		t.Fatalf("exit %d, %d bytes, stderr %s; want the host's %d-byte bundle", res.ExitCode, stdout.Len(), stderr, len(want))
	}
	spec, _, _ = newSpec(t, "test", "-e", bundle)
	if res := run(t, spec); res.ExitCode == 0 {
		t.Errorf("a step without network sees %s", bundle)
	}
}

func TestEnvironmentIsExactlySpecs(t *testing.T) {
	spec, stdout, stderr := newSpec(t, "env")
	if res := run(t, spec); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, stderr)
	}
	got := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	want := slices.Clone(testEnv)
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
}

func TestHostnameAndUser(t *testing.T) {
	for _, tc := range []struct{ user, want string }{
		{"", "kiln-test 0 0"},
		{"nobody", "kiln-test 65534 65534"},
		{"1000:1001", "kiln-test 1000 1001"},
	} {
		spec, stdout, stderr := newSpec(t, "sh", "-c", `echo $(hostname) $(id -u) $(id -g)`)
		spec.User = tc.user
		if res := run(t, spec); res.ExitCode != 0 {
			t.Fatalf("exit %d: %s", res.ExitCode, stderr)
		}
		if got := strings.TrimSpace(stdout.String()); got != tc.want {
			t.Errorf("user %q: got %q, want %q", tc.user, got, tc.want)
		}
	}
	spec, _, _ := newSpec(t, "true")
	spec.User = "no-such-user"
	if _, err := sandbox.Run(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "no-such-user") {
		t.Errorf("unknown user: err %v, want one naming the user", err)
	}
}

func TestTimeout(t *testing.T) {
	spec, _, _ := newSpec(t, "sleep", "100")
	spec.Timeout = 500 * time.Millisecond
	start := time.Now()
	res, err := sandbox.Run(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "time limit") || !res.TimedOut {
		t.Fatalf("err %v, result %+v; want a time-limit error and TimedOut", err, res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to kill at a 500ms limit", d)
	}
}

func TestPidsLimit(t *testing.T) {
	script := `for i in $(seq 30); do sleep 1 & done; wait`
	spec, _, stderr := newSpec(t, "sh", "-c", script)
	spec.Pids = 10
	res := run(t, spec)
	if res.ExitCode == 0 || !strings.Contains(stderr.String(), "can't fork") || !res.PidsLimitHit {
		t.Errorf("with a limit of 10: exit %d, stderr %q, %+v; want fork failures and PidsLimitHit", res.ExitCode, stderr, res)
	}
	spec, _, stderr = newSpec(t, "sh", "-c", script)
	if res := run(t, spec); res.ExitCode != 0 || res.PidsLimitHit {
		t.Errorf("without a limit: exit %d, stderr %q, %+v", res.ExitCode, stderr, res)
	}
}

func TestMemoryLimit(t *testing.T) {
	script := `x=$(head -c 100000000 /dev/zero | tr '\0' a); echo ${#x}`
	spec, _, _ := newSpec(t, "sh", "-c", script)
	spec.MemoryBytes = 32 << 20
	res := run(t, spec)
	if !res.OOMKilled || res.ExitCode != 137 {
		t.Errorf("at 32 MiB: %+v, want OOMKilled and exit 137", res)
	}
}

// cgroupDirs lists where the container's cgroup lives in each v1
// hierarchy (or in the v2 one), below this process's own cgroups.
func cgroupDirs(t *testing.T, pid int, id string) []string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		ctrl := strings.TrimPrefix(parts[1], "name=")
		base := filepath.Join("/sys/fs/cgroup", ctrl)
		if ctrl == "" {
			// cgroup v2: the whole of /sys/fs/cgroup, or in hybrid mode
			// the part mounted at unified.
			base = "/sys/fs/cgroup"
			if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
				base = "/sys/fs/cgroup/unified"
			}
		}
		if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
			continue // not mounted
		}
		dirs = append(dirs, filepath.Join(base, parts[2], "kiln-"+strconv.Itoa(pid)+"-"+id))
	}
	return dirs
}

func TestCancelCleansUp(t *testing.T) {
	spec, _, _ := newSpec(t, "sleep", "100")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := sandbox.Run(ctx, spec)
		done <- err
	}()
	dirs := cgroupDirs(t, os.Getpid(), spec.ID)
	if len(dirs) == 0 {
		t.Fatal("no cgroup hierarchy found")
	}
	procs := filepath.Join(dirs[0], "cgroup.procs")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if data, err := os.ReadFile(procs); err == nil && len(bytes.TrimSpace(data)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the step never showed up in %s", procs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "canceled") {
			t.Errorf("err %v, want one saying the context was canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind", d)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), filepath.Dir(spec.StateDir)) {
		t.Errorf("mount left behind:\n%s", mi)
	}
	if _, err := os.Stat(spec.StateDir); !os.IsNotExist(err) {
		t.Errorf("state dir left behind")
	}
}

func TestBindMounts(t *testing.T) {
	ro, rw := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ro, "in"), []byte("input\n"), 0o644)
	spec, stdout, stderr := newSpec(t, "sh", "-c", "cat /ro/in; echo x > /ro/new && echo wrote-ro; echo out > /rw/out")
	spec.Mounts = []sandbox.Mount{
		{Type: "bind", Source: ro, Dest: "/ro", ReadOnly: true},
		{Type: "bind", Source: rw, Dest: "/rw"},
	}
	run(t, spec)
	if stdout.String() != "input\n" || !strings.Contains(stderr.String(), "Read-only file system") {
		t.Errorf("stdout %q stderr %q: want the input read and the write refused", stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(ro, "new")); !os.IsNotExist(err) {
		t.Errorf("write reached the read-only source")
	}
	if data, _ := os.ReadFile(filepath.Join(rw, "out")); string(data) != "out\n" {
		t.Errorf("read-write bind: host sees %q", data)
	}
}

func TestTmpfsMount(t *testing.T) {
	spec, stdout, stderr := newSpec(t, "sh", "-c", "stat -c %a /scratch; head -c 2000000 /dev/zero > /scratch/big || echo full; rm /scratch/big; echo x > /scratch/small && cat /scratch/small")
	spec.Mounts = []sandbox.Mount{{Type: "tmpfs", Dest: "/scratch", SizeBytes: 1 << 20}}
	run(t, spec)
	if got := strings.Fields(stdout.String()); !slices.Equal(got, []string{"1777", "full", "x"}) {
		t.Errorf("output %v (stderr %s), want mode 1777, the 1 MiB cap hit, and a small write", got, stderr)
	}
	if got := tree(t, spec.Upper); len(got) != 0 {
		t.Errorf("tmpfs contents leaked into upper: %v", got)
	}
}

func TestOverlayMount(t *testing.T) {
	bottom, top := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(bottom, "a"), []byte("bottom"), 0o644)
	os.WriteFile(filepath.Join(bottom, "b"), []byte("bottom"), 0o644)
	os.WriteFile(filepath.Join(top, "a"), []byte("top"), 0o644)
	upper, work := t.TempDir(), t.TempDir()
	spec, stdout, stderr := newSpec(t, "sh", "-c", "cat /ro/a /ro/b; echo; touch /ro/c || echo refused; echo new > /rw/c")
	spec.Mounts = []sandbox.Mount{
		{Type: "overlay", Lowers: []string{bottom, top}, Dest: "/ro"},
		{Type: "overlay", Lowers: []string{bottom}, Upper: upper, Work: work, Dest: "/rw"},
	}
	run(t, spec)
	if got := strings.Fields(stdout.String()); !slices.Equal(got, []string{"topbottom", "refused"}) {
		t.Errorf("output %v (stderr %s)", got, stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(upper, "c")); string(data) != "new\n" {
		t.Errorf("writable overlay's upper has %q", data)
	}
}

func TestBadSpec(t *testing.T) {
	testutil.RequireRoot(t)
	for name, mutate := range map[string]func(*sandbox.Spec){
		"no args":       func(s *sandbox.Spec) { s.Args = nil },
		"relative cwd":  func(s *sandbox.Spec) { s.Cwd = "src" },
		"bad mount":     func(s *sandbox.Spec) { s.Mounts = []sandbox.Mount{{Type: "nfs", Dest: "/x"}} },
		"mount at root": func(s *sandbox.Spec) { s.Mounts = []sandbox.Mount{{Type: "tmpfs", Dest: "/"}} },
	} {
		spec, _, _ := newSpec(t, "true")
		mutate(&spec)
		if _, err := sandbox.Run(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "invalid sandbox spec") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

// TestSupplementaryGroups checks a step's groups are what BuildKit's
// executor (and docker) give it: the user's memberships in the step's
// /etc/group plus its primary group, none for an explicit group, and
// only the given gid for numeric "uid:gid".
func TestSupplementaryGroups(t *testing.T) {
	accounts := t.TempDir()
	if err := os.Mkdir(filepath.Join(accounts, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"group":  "root:x:0:\nwheel:x:10:root\nstaff:x:50:app,other\naudio:x:63:app\napp:x:1000:\nnogroup:x:65534:\n",
	} {
		if err := os.WriteFile(filepath.Join(accounts, "etc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ user, want string }{
		{"", "0 0 0 10"}, // no user is "0" looked up: root is in wheel
		{"root", "0 0 0 10"},
		{"0:0", "0 0 0"},
		{"root:root", "0 0 0"},
		{"app", "1000 1000 50 63 1000"},
		{"1000", "1000 1000 50 63 1000"}, // a numeric user's name is looked up too
		{"1000:1000", "1000 1000 1000"},
		{"app:staff", "1000 50 50"},
		{"nobody", "65534 65534 65534"},
		{"4242", "4242 0 0"}, // no entry: gid 0, as runc's lookup gives
	} {
		spec, stdout, stderr := newSpec(t, "sh", "-c", `echo $(id -u) $(id -g) $(sed -n 's/^Groups:\s*//p' /proc/self/status)`)
		spec.Lowers = append(spec.Lowers, accounts)
		spec.User = tc.user
		if res := run(t, spec); res.ExitCode != 0 {
			t.Fatalf("user %q: exit %d: %s", tc.user, res.ExitCode, stderr)
		}
		if got := strings.Join(strings.Fields(stdout.String()), " "); got != tc.want {
			t.Errorf("user %q: uid gid groups %q, want %q", tc.user, got, tc.want)
		}
	}
}
