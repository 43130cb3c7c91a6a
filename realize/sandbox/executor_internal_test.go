package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/realize/executor"
)

// TestExecutorMounts: a writable layers mount gets a throw-away upper in
// the scratch directory, a read-only one none; caches and secrets become
// binds, secrets read-only.
func TestExecutorMounts(t *testing.T) {
	scratch := t.TempDir()
	ms, err := sandboxMounts([]executor.Mount{
		{Type: executor.MountLayers, Dest: "/rw", Layers: []executor.Layer{{Path: "/l1"}, {Path: "/l2"}}},
		{Type: executor.MountLayers, Dest: "/ro", Layers: []executor.Layer{{Path: "/l1"}}, ReadOnly: true},
		{Type: executor.MountCache, Dest: "/c", Source: "/cache"},
		{Type: executor.MountSecret, Dest: "/s", Source: "/secret"},
		{Type: executor.MountTmpfs, Dest: "/t", SizeBytes: 10},
	}, scratch)
	if err != nil {
		t.Fatal(err)
	}
	rw := ms[0]
	if rw.Type != "overlay" || len(rw.Lowers) != 2 || rw.Upper != filepath.Join(scratch, "mount0-upper") || rw.Work != filepath.Join(scratch, "mount0-work") {
		t.Errorf("writable layers mount = %+v", rw)
	}
	if fi, err := os.Stat(rw.Upper); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("upper: %v, %v; want a 0755 directory", fi, err)
	}
	if ro := ms[1]; ro.Upper != "" || !ro.ReadOnly {
		t.Errorf("read-only layers mount = %+v", ro)
	}
	if c := ms[2]; c.Type != "bind" || c.Source != "/cache" || c.ReadOnly {
		t.Errorf("cache mount = %+v", c)
	}
	if s := ms[3]; s.Type != "bind" || s.Source != "/secret" || !s.ReadOnly {
		t.Errorf("secret mount = %+v", s)
	}
	if tm := ms[4]; tm.Type != "tmpfs" || tm.SizeBytes != 10 {
		t.Errorf("tmpfs mount = %+v", tm)
	}
	if _, err := sandboxMounts([]executor.Mount{{Type: "nfs", Dest: "/n"}}, scratch); err == nil {
		t.Errorf("an unknown mount type was accepted")
	}
}
