package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kiln-build/kiln/internal/unixmode"
	"github.com/kiln-build/kiln/realize/executor"
	"github.com/kiln-build/kiln/realize/snapshot"
)

// Executor runs exec steps in libcontainer sandboxes on this machine, as
// root. Each run's state lives in its own directory under Root, which
// Cleanup cleans after a killed kiln.
type Executor struct {
	// Root holds the state directories of the sandboxes.
	Root string
	// RequireLimits makes Prepare fail where steps' memory and pids limits
	// cannot be enforced (a rootless kiln without delegated cgroups)
	// rather than warn.
	RequireLimits bool
	// Warn receives what the user should know about the sandboxes to
	// come (nil: dropped).
	Warn func(string)
}

var _ executor.Executor = (*Executor)(nil)

// Prepare checks privileges and cleans up after killed runs: what they
// left under Root, and the cgroups of killed kilns whatever root they
// used, the latter in the background. A stale cgroup that cannot be
// removed does not fail it (kiln store verify lists it).
func (e *Executor) Prepare(ctx context.Context) error {
	if err := Check(); err != nil {
		return err
	}
	if !LimitsEnforced() {
		if e.RequireLimits {
			return fmt.Errorf("%w: %s", ErrPrivileges, LimitsNotEnforced)
		}
		if e.Warn != nil {
			e.Warn(LimitsNotEnforced)
		}
	}
	if err := os.MkdirAll(e.Root, 0o700); err != nil {
		return err
	}
	warnSealCopy(e.Root, e.Warn)
	warnInit(e.Warn)
	// Which snapshotter the steps get is said once, before the first.
	_, msg, err := snapshot.Choose(e.Root)
	if err != nil {
		return err
	}
	if msg != "" && e.Warn != nil {
		e.Warn(msg)
	}
	err = Cleanup(e.Root)
	// The sweep reads every kiln cgroup on the machine and takes
	// milliseconds, which a second build started next to a running one
	// would otherwise wait for before its first step. It touches only the
	// cgroups of dead kilns, never this process's, so the steps need not
	// wait for it; cut off by this process ending, it leaves what the next
	// kiln's sweep finishes (its failures never failed a build anyway).
	go func() { _, _ = SweepCgroups() }()
	return err
}

// Exec runs spec in a new sandbox (see Run) whose overlay work directories
// live in spec.Scratch.
func (e *Executor) Exec(ctx context.Context, spec executor.Spec) (executor.Result, error) {
	work := filepath.Join(spec.Scratch, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		return executor.Result{}, err
	}
	mounts, err := sandboxMounts(spec.Mounts, spec.Scratch)
	if err != nil {
		return executor.Result{}, err
	}
	res, err := Run(ctx, Spec{
		ID:          spec.ID,
		Lowers:      layerPaths(spec.Root),
		Upper:       spec.Upper,
		Work:        work,
		Args:        spec.Args,
		Env:         spec.Env,
		Cwd:         spec.Cwd,
		User:        spec.User,
		Hostname:    spec.Hostname,
		Network:     spec.HostNetwork,
		Mounts:      mounts,
		MemoryBytes: spec.MemoryBytes,
		Pids:        spec.Pids,
		Insecure:    spec.Insecure,
		Timeout:     spec.Timeout,
		Stdout:      spec.Stdout,
		Stderr:      spec.Stderr,
		StateDir:    filepath.Join(e.Root, spec.ID),
	})
	return executor.Result(res), err
}

// sandboxMounts turns a step's mounts into the sandbox's: layers become
// overlays, whose writes (when writable) go to a scratch upper that is
// thrown away; caches and secrets become binds.
func sandboxMounts(ms []executor.Mount, scratch string) ([]Mount, error) {
	out := make([]Mount, 0, len(ms))
	for i, m := range ms {
		switch m.Type {
		case executor.MountLayers:
			sm := Mount{Type: "overlay", Dest: m.Dest, Lowers: layerPaths(m.Layers), ReadOnly: m.ReadOnly}
			if !m.ReadOnly {
				sm.Upper = filepath.Join(scratch, fmt.Sprintf("mount%d-upper", i))
				sm.Work = filepath.Join(scratch, fmt.Sprintf("mount%d-work", i))
				if err := unixmode.MkdirAll(sm.Upper, sm.Work); err != nil {
					return nil, err
				}
			}
			out = append(out, sm)
		case executor.MountCache:
			out = append(out, Mount{Type: "bind", Source: m.Source, Dest: m.Dest})
		case executor.MountTmpfs:
			out = append(out, Mount{Type: "tmpfs", Dest: m.Dest, SizeBytes: m.SizeBytes})
		case executor.MountSecret, executor.MountSocket:
			// Connecting to a socket needs no write access to its mount.
			out = append(out, Mount{Type: "bind", Source: m.Source, Dest: m.Dest, ReadOnly: true})
		default:
			return nil, fmt.Errorf("unknown mount type %q", m.Type)
		}
	}
	return out, nil
}

func layerPaths(ls []executor.Layer) []string {
	ps := make([]string, len(ls))
	for i, l := range ls {
		ps[i] = l.Path
	}
	return ps
}
