// Package testutil holds fixtures that kiln's tests share: a busybox root
// filesystem assembled from Debian's busybox-static, and a real registry
// (Debian's docker-registry) on loopback. Nothing here is committed as a
// binary; everything is built at test time from installed packages.
package testutil

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BusyboxPath is where Debian's busybox-static installs its binary.
const BusyboxPath = "/usr/bin/busybox"

// RequireRoot skips the test unless it runs as root: sandboxes, overlay
// mounts and device nodes need it. CI runs as root, so there these tests run.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root)")
	}
}

// Busybox returns the path of busybox-static, failing the test when it is
// missing: the README's test command installs it.
func Busybox(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Fatalf("busybox-static is not installed (apt-get install busybox-static): %v", err)
	}
	return BusyboxPath
}

// BusyboxRootfs assembles a minimal root filesystem in a new temporary
// directory: /bin/busybox with its applet links, /etc/passwd and /etc/group,
// and empty /tmp, /proc, /dev, /sys. All mtimes are set to epoch 0 so that
// tests hashing it get stable results.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteBusyboxRootfs(dir, Busybox(t)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// WriteBusyboxRootfs writes the busybox root filesystem into dir.
func WriteBusyboxRootfs(dir, busybox string) error {
	for _, d := range []string{"bin", "etc", "tmp", "proc", "dev", "sys", "root", "usr/bin", "sbin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o777|os.ModeSticky); err != nil {
		return err
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("listing busybox applets: %w", err)
	}
	for _, name := range splitLines(string(out)) {
		if name == "" || name == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", name)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	epoch := time.Unix(0, 0)
	return filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		return os.Chtimes(p, epoch, epoch)
	})
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// Registry is Debian's docker-registry serving on a loopback port.
type Registry struct {
	// Addr is host:port, for image references such as Addr+"/repo:tag".
	Addr string
	cmd  *exec.Cmd
}

// StartRegistry starts docker-registry on 127.0.0.1 with storage in a
// temporary directory and stops it when the test ends.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry is not installed (apt-get install docker-registry): %v", err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &Registry{Addr: addr, cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
	t.Fatalf("docker-registry did not start on %s:\n%s", addr, log)
	return nil
}
