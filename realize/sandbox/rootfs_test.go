package sandbox_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/realize/sandbox"
)

// TestMountDestCannotEscape: a mount's destination with ".." stays inside
// the container; preparing its mount point must not create (or, for a
// file bind, truncate) anything on the host.
func TestMountDestCannotEscape(t *testing.T) {
	host := t.TempDir()
	victim := filepath.Join(host, "victim")
	if err := os.WriteFile(victim, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("/..", 40)
	spec, stdout, stderr := newSpec(t, "sh", "-c", "cat "+victim+"; ls -d "+host+"/dir")
	spec.Mounts = []sandbox.Mount{
		{Type: "bind", Source: victim, Dest: up + victim, ReadOnly: true},
		{Type: "tmpfs", Dest: up + host + "/dir"},
	}
	if res := run(t, spec); res.ExitCode != 0 {
		t.Errorf("exit %d, stderr %s", res.ExitCode, stderr)
	}
	if stdout.String() != "keep me\n"+host+"/dir\n" {
		t.Errorf("inside: %q, want the bind-mounted file and the tmpfs at the cleaned paths", stdout)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep me\n" {
		t.Errorf("the host's %s now holds %q", victim, data)
	}
	if _, err := os.Stat(filepath.Join(host, "dir")); !os.IsNotExist(err) {
		t.Errorf("a mount point was made on the host: %v", err)
	}
}
