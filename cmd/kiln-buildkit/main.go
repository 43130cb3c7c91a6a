// Command kiln-buildkit is kiln's helper for BuildKit. It is not meant to
// be run by hand: kiln starts it for a build with --buildkit (or
// KILN_BUILDKIT_HOST) at the first step that needs a daemon, and for
// `kiln llb`, and talks to it over its stdin and stdout (package
// realize/executor/bkhelper). It holds everything that needs BuildKit's
// client (gRPC, protobuf, OpenTelemetry, containerd's API), which kiln
// itself no longer links: a kiln process that never meets BuildKit does
// not pay for initialising them.
//
// Install it next to kiln, from the same checkout:
//
//	go build -o DIR ./cmd/kiln-buildkit   # DIR: where kiln is
//	go install ./cmd/...                  # both, into GOBIN
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/moby/buildkit/client/llb"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize/executor"
	"github.com/kiln-build/kiln/realize/executor/bkhelper"
	"github.com/kiln-build/kiln/realize/executor/buildkit"
	"github.com/kiln-build/kiln/realize/llbgraph"
)

const usage = `kiln-buildkit is kiln's helper for BuildKit, started by kiln itself for
builds with --buildkit (or KILN_BUILDKIT_HOST) and for 'kiln llb'; it is not
meant to be run by hand. Keep it next to the kiln binary it was built with
(go build -o DIR ./cmd/kiln-buildkit, or go install ./cmd/...).
`

func main() {
	if len(os.Args) > 1 || term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// The protocol owns stdout: anything else that writes there (a
	// library's stray print) goes to stderr instead.
	fd, err := unix.Dup(1)
	if err == nil {
		err = unix.Dup3(2, 1, 0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kiln-buildkit: %v\n", err)
		os.Exit(1)
	}
	unix.CloseOnExec(fd)
	out := os.NewFile(uintptr(fd), "protocol")
	self, _ := os.Executable()
	if err := bkhelper.Serve(os.Stdin, out, self, open); err != nil {
		fmt.Fprintf(os.Stderr, "kiln-buildkit: %v\n", err)
		os.Exit(1)
	}
}

func open(h *bkhelper.Hello, warn func(string)) (bkhelper.Backend, error) {
	b := &backend{}
	var fb executor.Executor
	if h.Fallback {
		b.fb = &fallback{}
		fb = b.fb
	}
	if len(h.Addrs) > 0 {
		b.pool = buildkit.NewPool(h.Addrs, h.TLSDir, fb, warn)
	}
	return b, nil
}

type backend struct {
	pool *buildkit.Pool
	fb   *fallback
}

// fallback stands for kiln's local sandbox in the helper's pool: the
// sandbox re-executes kiln as the container's init, so the steps it
// takes are handed back to kiln (bkhelper.ErrFallback), and the pool's
// rules (when a step falls back, the warnings) stay in one place.
type fallback struct{ asked atomic.Bool }

func (f *fallback) Prepare(context.Context) error { f.asked.Store(true); return nil }

func (f *fallback) Exec(context.Context, executor.Spec) (executor.Result, error) {
	return executor.Result{}, bkhelper.ErrFallback
}

func (b *backend) noDaemons() error {
	return fmt.Errorf("kiln started kiln-buildkit without a buildkitd address")
}

func (b *backend) Prepare(ctx context.Context) error {
	if b.pool == nil {
		return b.noDaemons()
	}
	if err := b.pool.Prepare(ctx); err != nil {
		return err
	}
	if b.fb != nil && b.fb.asked.Load() {
		return bkhelper.ErrFallback
	}
	return nil
}

func (b *backend) Exec(ctx context.Context, spec executor.Spec) (executor.Result, error) {
	if b.pool == nil {
		return executor.Result{}, b.noDaemons()
	}
	return b.pool.Exec(ctx, spec)
}

func (b *backend) File(ctx context.Context, spec executor.FileSpec) error {
	if b.pool == nil {
		return b.noDaemons()
	}
	return b.pool.File(ctx, spec)
}

// LLB rebuilds the graph kiln sent (checking that every derivation still
// has its digest: nothing was lost on the way) and writes its definition
// as `llb.WriteTo` does for buildctl.
func (b *backend) LLB(ctx context.Context, req *bkhelper.LLBRequest) ([]byte, []bkhelper.Local, error) {
	g := &compiler.Graph{Nodes: make(map[digest.Digest]*compiler.Derivation, len(req.Nodes))}
	for dg, n := range req.Nodes {
		d := &compiler.Derivation{}
		if err := json.Unmarshal(n.Derivation, d); err != nil {
			return nil, nil, fmt.Errorf("derivation %s: %w", dg, err)
		}
		if got, err := d.Digest(); err != nil || got != dg {
			return nil, nil, fmt.Errorf("derivation %s arrived as %s (%v): kiln and kiln-buildkit disagree on derivations; build both from the same checkout", dg, got, err)
		}
		d.Name = n.Name
		g.Nodes[dg] = d
	}
	state, locals, err := llbgraph.Translate(g, req.Root, func(dg digest.Digest) ([]string, []string, error) {
		s := req.Sources[dg]
		return s.Dirs, s.Env, nil
	})
	if err != nil {
		return nil, nil, err
	}
	osName, arch, _ := strings.Cut(req.Platform, "/")
	arch, variant, _ := strings.Cut(arch, "/")
	def, err := state.Marshal(ctx, llb.Platform(ocispec.Platform{OS: osName, Architecture: arch, Variant: variant}))
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	if err := llb.WriteTo(def, &buf); err != nil {
		return nil, nil, err
	}
	out := make([]bkhelper.Local, len(locals))
	for i, l := range locals {
		out[i] = bkhelper.Local{Name: l.Name, Dir: l.Dir}
	}
	return buf.Bytes(), out, nil
}
