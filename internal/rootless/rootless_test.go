package rootless

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSubRange(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "subuid")
	content := "# comment\nother:100000:65536\nalice:200000:1000\nalice:300000:65536\n1001:400000:70000\nbroken line\n"
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		user  hostUser
		want  Range
		wantE string
	}{
		{"by name, first big enough", hostUser{name: "alice", uid: 1000}, Range{300000, 65536}, ""},
		{"by uid", hostUser{name: "bob", uid: 1001}, Range{400000, 70000}, ""},
		{"none", hostUser{name: "carol", uid: 1002}, Range{}, "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 carol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := subRange(file, tc.user)
			if tc.wantE != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantE) {
					t.Fatalf("subRange = %v, %v; want an error naming %q", got, err, tc.wantE)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("subRange = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestSubRangeMissingFile(t *testing.T) {
	_, err := subRange(filepath.Join(t.TempDir(), "subgid"), hostUser{name: "dave", uid: 5})
	if err == nil || !strings.Contains(err.Error(), "usermod --add-subuids") || !strings.Contains(err.Error(), "subordinate gid") {
		t.Fatalf("want the usermod line for a missing subgid file, got %v", err)
	}
}

func TestNamespaceErrorNamesSysctl(t *testing.T) {
	err := namespaceError(&os.SyscallError{Syscall: "clone", Err: unix.EPERM})
	if !strings.Contains(err.Error(), "user.max_user_namespaces") || !strings.Contains(err.Error(), "kernel.unprivileged_userns_clone") {
		t.Fatalf("namespace error does not name the sysctls: %v", err)
	}
}

func TestNotActiveOnHost(t *testing.T) {
	if InUserNS() {
		t.Skip("running in a user namespace")
	}
	t.Setenv(envHostUID, "1000")
	if Active() {
		t.Fatal("Active outside a user namespace")
	}
}
