// Package executor is the seam between the realizer and what runs an exec
// step's command: the realizer decides what the step sees (its root's
// layers, its mounts, its environment, its secrets and caches, its limits)
// and stores what the step changed; an Executor provides the isolation and
// runs the process. The libcontainer sandbox (realize/sandbox) is the first
// implementation; others (a rootless sandbox, a BuildKit daemon) implement
// the same interface and are chosen in realize.Options.
//
// The types here name no compiler or store type, so that an executor
// depends on nothing but this package.
package executor

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Executor runs the commands of exec steps.
type Executor interface {
	// Prepare checks that this executor can run steps here and cleans up
	// what killed runs left behind. The realizer calls it once, before the
	// first step that needs it, so that a build without the privileges
	// fails at once instead of after its sources are fetched.
	Prepare(ctx context.Context) error
	// Exec runs spec's command and waits for it. When it returns, the
	// changes the command made to its root are in spec.Upper, and nothing
	// of the run is left running or mounted. It returns an error only when
	// the executor itself fails, ctx is done or the time limit is hit; a
	// command that exits non-zero is a Result with that ExitCode.
	Exec(ctx context.Context, spec Spec) (Result, error)
}

// Layer is one layer of a step's root or of an input mount.
type Layer struct {
	// Digest is the layer's digest in the store, for an executor that
	// ships layers by name rather than by path.
	Digest digest.Digest
	// Path is the layer's directory on this machine (for an input mount
	// with a Selector, the selected directory inside the layer).
	Path string
}

// MountType says what a Mount shows.
type MountType string

const (
	// MountLayers shows a state's layers, merged.
	MountLayers MountType = "layers"
	// MountCache shows a persistent cache directory, held for the step.
	MountCache MountType = "cache"
	// MountTmpfs is an empty in-memory filesystem.
	MountTmpfs MountType = "tmpfs"
	// MountSecret is a read-only file holding a secret's value.
	MountSecret MountType = "secret"
	// MountSocket is a Unix socket of the host (an SSH agent's) that the
	// step can connect to.
	MountSocket MountType = "socket"
)

// Mount is one filesystem a step sees at Dest besides its root.
type Mount struct {
	Type MountType
	// Dest is the absolute path inside the step.
	Dest string
	// Layers are a MountLayers mount's layers, bottom first. Where they
	// overlap, an upper layer's files win.
	Layers []Layer
	// Selector is the directory inside each layer that a MountLayers mount
	// shows instead of the layers' roots ("": the roots). Layers lists
	// only the layers that have it, with Path pointing into it.
	Selector string
	// ReadOnly makes a MountLayers mount read-only. A writable one keeps
	// the step's writes to itself: they are thrown away with the step.
	ReadOnly bool
	// Source is the host path of a MountCache directory, a MountSecret
	// file or a MountSocket socket.
	Source string
	// CacheID names a MountCache mount's cache (Source is where it lives).
	CacheID string
	// Sharing is a MountCache mount's sharing mode (shared, locked or
	// private), for an executor whose caches live elsewhere: the realizer
	// already enforces it for Source.
	Sharing string
	// SizeBytes caps a MountTmpfs (0: the kernel's default).
	SizeBytes int64
}

// Spec is one run of one exec step.
type Spec struct {
	// ID is unique among running steps: letters, digits, '_', '+', '-'
	// and '.' only.
	ID string
	// Root is the root filesystem's layers, bottom first; empty for a
	// scratch root.
	Root []Layer
	// Upper is an empty directory that receives the step's changes to its
	// root in overlay form (a deletion is a 0/0 character device, a
	// replaced directory carries trusted.overlay.opaque): it becomes the
	// step's new layer.
	Upper string
	// Scratch is an empty private directory on the same filesystem as
	// Upper for the executor's own use; the realizer removes it after Exec.
	Scratch string
	// Args is the command; Args[0] is looked up in Env's PATH inside the
	// step.
	Args []string
	// Env is the process's whole environment: nothing is inherited.
	Env []string
	// SecretEnv are the entries of Env that hold secrets' values, for an
	// executor that must not write them where a build is recorded (a
	// BuildKit definition).
	SecretEnv []string
	// Cwd is the working directory ("" means "/"), created when missing.
	Cwd string
	// User is "uid[:gid]" or names from the root's /etc/passwd and
	// /etc/group ("" means root).
	User string
	// Hostname is the step's hostname ("" means "kiln").
	Hostname string
	// HostNetwork shares the host's network; otherwise the step has only
	// loopback.
	HostNetwork bool
	// Insecure runs the step with every capability and no seccomp filter
	// (security = "insecure").
	Insecure bool
	// Mounts are mounted in order, after the executor's standard ones.
	Mounts []Mount
	// MemoryBytes limits memory without swap (0: no limit).
	MemoryBytes int64
	// Pids limits the number of processes and threads (0: no limit).
	Pids int64
	// Timeout is the wall-time limit (0: none).
	Timeout time.Duration
	// Stdout and Stderr receive the process's output (nil: discarded).
	// They do not cross a process boundary (kiln-buildkit's protocol
	// streams the output as frames instead).
	Stdout io.Writer `json:"-"`
	Stderr io.Writer `json:"-"`
}

// Result is how a step ended.
type Result struct {
	// ExitCode is the process's exit status, or 128+signal when a signal
	// killed it.
	ExitCode int
	// Duration is the wall time of the run.
	Duration time.Duration
	// TimedOut says the step was killed at Spec.Timeout.
	TimedOut bool
	// OOMKilled says the kernel killed a process of the step for
	// exceeding Spec.MemoryBytes.
	OOMKilled bool
	// PidsLimitHit says the kernel refused a fork or thread of the step
	// because of Spec.Pids.
	PidsLimitHit bool
}

// FileRunner is an Executor that can also apply file steps (mkdir, mkfile,
// symlink, rm) elsewhere than in kiln's process, as a BuildKit daemon's
// file ops do. The realizer offers it the file steps it may take and
// applies the others, and those it declines, itself.
type FileRunner interface {
	// File applies spec's actions to spec.Base and leaves the changes in
	// spec.Upper in overlay form, as Exec does. It returns ErrRunLocally
	// when it cannot give the result kiln's own file step gives (the
	// realizer then applies the actions itself), and an error only when
	// the executor fails or ctx is done.
	File(ctx context.Context, spec FileSpec) error
}

// ErrRunLocally is a FileRunner declining a file step.
var ErrRunLocally = errors.New("this file step runs in kiln")

// FileSpec is one file step with no copy and no owner names.
type FileSpec struct {
	// ID is unique among running steps, as Spec.ID.
	ID string
	// Base is the state's layers, bottom first; empty for scratch.
	Base []Layer
	// Actions are applied in order.
	Actions []FileAction
	// Upper and Scratch are as in Spec.
	Upper, Scratch string
}

// FileAction is one mkdir, mkfile, symlink or rm, with numeric owners.
type FileAction struct {
	Action string
	Path   string
	// Mode of a mkdir or mkfile, in Unix bits.
	Mode     uint32
	UID, GID int
	// Data is a mkfile's content; Target a symlink's.
	Data, Target string
	// Parents creates the missing parents of a mkdir or mkfile.
	Parents bool
	// AllowNotFound makes rm of a missing path succeed.
	AllowNotFound bool
}
