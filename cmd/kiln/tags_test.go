package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// TestRegistryPushesTags: -o type=registry without name= pushes an image
// to each of its block's tags, and every target built to its own.
func TestRegistryPushesTags(t *testing.T) {
	needTools(t, "skopeo", "docker-registry")
	reg := testutil.StartRegistry(t)
	p := newProj(t, fmt.Sprintf(`
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

image "a" {
  from = source.local.busybox
  tags = ["%[1]s/kiln/a:1", "%[1]s/kiln/a:latest"]
}

image "b" {
  from = source.local.busybox
  env  = { B = "1" }
  tags = ["%[1]s/kiln/b:1"]
}
`, reg.Addr), "")
	p.ok("build", "--progress", "quiet", "a", "b", "-o", "type=registry,registry.insecure=true")
	digests := map[string]string{}
	for _, ref := range []string{"kiln/a:1", "kiln/a:latest", "kiln/b:1"} {
		out := tool(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+reg.Addr+"/"+ref)
		digests[ref] = strings.TrimSpace(out)
	}
	if digests["kiln/a:1"] != digests["kiln/a:latest"] || digests["kiln/a:1"] == digests["kiln/b:1"] {
		t.Errorf("pushed digests: %v", digests)
	}
}
