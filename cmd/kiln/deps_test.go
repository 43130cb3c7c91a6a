package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoBuildKitClientInKiln: kiln itself links none of BuildKit's
// client, gRPC or containerd's API, which kiln-buildkit holds instead
// (realize/executor/bkhelper says why): Go initialises every linked
// package at start-up, and they were half of a no-op build's package
// initialisation. An import of realize/executor/buildkit,
// realize/llbgraph or BuildKit's client anywhere under cmd/kiln fails
// here.
func TestNoBuildKitClientInKiln(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH: cannot list kiln's dependencies")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/kiln: %v", err)
	}
	banned := []string{
		"google.golang.org/grpc",
		"github.com/moby/buildkit/client",
		"github.com/moby/buildkit/session",
		"github.com/containerd/containerd/",
		"github.com/kiln-build/kiln/realize/executor/buildkit",
		"github.com/kiln-build/kiln/realize/llbgraph",
	}
	for _, p := range strings.Fields(string(out)) {
		for _, b := range banned {
			if p == b || strings.HasPrefix(p, strings.TrimSuffix(b, "/")+"/") {
				t.Errorf("kiln links %s (through %s): BuildKit's client belongs in cmd/kiln-buildkit", b, p)
			}
		}
	}
}
