package buildkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/internal/testutil/buildkitd"
)

// TestConnHelpers: docker-container:// and kube-pod:// addresses reach a
// daemon through BuildKit's own connection helpers, which run `docker
// exec -i NAME buildctl dial-stdio` and `kubectl ... exec ... -- buildctl
// dial-stdio`. Here docker and kubectl are scripts on PATH that record
// their arguments and run `buildctl dial-stdio` against a real buildkitd,
// as the command inside the container or pod would.
func TestConnHelpers(t *testing.T) {
	d := buildkitd.Start(t)
	root := testutil.BusyboxRootfs(t)
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	for _, name := range []string{"docker", "kubectl"} {
		script := fmt.Sprintf("#!/bin/sh\necho \"%s $*\" >> %s\nexec %s --addr %s dial-stdio\n", name, calls, d.Buildctl, d.Addr)
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, tc := range []struct{ addr, call string }{
		{"docker-container://kiln-buildkitd", "docker exec -i kiln-buildkitd buildctl dial-stdio"},
		{"kube-pod://buildkitd-0?namespace=ci&container=buildkitd", "kubectl --context= --namespace=ci exec --container=buildkitd -i buildkitd-0 -- buildctl dial-stdio"},
	} {
		t.Run(strings.SplitN(tc.addr, ":", 2)[0], func(t *testing.T) {
			os.Remove(calls)
			e := &Executor{Addr: tc.addr}
			if err := e.Prepare(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := spec(t, root, "echo via-helper > /f")
			res, err := e.Exec(context.Background(), s)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("exec: %v, exit %d", err, res.ExitCode)
			}
			if got, err := os.ReadFile(filepath.Join(s.Upper, "f")); err != nil || string(got) != "via-helper\n" {
				t.Errorf("f = %q, %v", got, err)
			}
			b, err := os.ReadFile(calls)
			if err != nil || !strings.Contains(string(b), tc.call) {
				t.Errorf("calls = %q, %v; want %q", b, err, tc.call)
			}
		})
	}
}
