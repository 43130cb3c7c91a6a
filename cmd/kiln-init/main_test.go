package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksOnlyTheInit: kiln-init links no kiln package but
// internal/containerinit. Its size is its point; and kiln's binary holds
// the constructor that re-executes kiln-init (realize/sandbox), which in
// kiln-init itself would re-execute it again for ever.
func TestLinksOnlyTheInit(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH: cannot list kiln-init's dependencies")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/kiln-init: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/kiln-build/kiln/") && p != "github.com/kiln-build/kiln/internal/containerinit" && p != "github.com/kiln-build/kiln/cmd/kiln-init" {
			t.Errorf("kiln-init links %s: it must hold libcontainer's init and nothing of kiln's but internal/containerinit", p)
		}
	}
}
