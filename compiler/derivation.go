package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
)

// Kind names the operation a Derivation performs. The set mirrors BuildKit's
// LLB ops (solver/pb/ops.proto).
type Kind string

const (
	KindSource Kind = "source"
	KindExec   Kind = "exec"
	KindFile   Kind = "file"
	KindMerge  Kind = "merge"
	KindDiff   Kind = "diff"
)

// Derivation is one node of the build graph: an operation plus the digests of
// the derivations it reads. Everything that can change the realized output is
// a hashed field; everything that cannot (display names, source ranges,
// limits) is tagged json:"-" so it never reaches the canonical encoding.
//
// This struct set is frozen: renaming a JSON key or changing a field's
// meaning changes every digest ever recorded. Add fields only with omitempty
// so that existing derivations keep their encoding.
type Derivation struct {
	Kind Kind `json:"kind"`
	// Inputs are the states this derivation reads, by derivation digest.
	// Mounts and file actions refer to them by index.
	Inputs []digest.Digest `json:"inputs,omitempty"`
	// Platform is os/arch[/variant] for derivations whose result depends on
	// it (exec, and image sources).
	Platform string `json:"platform,omitempty"`
	// SourceDateEpoch is part of every derivation that produces files, since
	// normalization clamps mtimes to it.
	SourceDateEpoch int64 `json:"epoch"`

	Source *SourceOp `json:"source,omitempty"`
	Exec   *ExecOp   `json:"exec,omitempty"`
	File   *FileOp   `json:"file,omitempty"`
	Merge  *MergeOp  `json:"merge,omitempty"`
	Diff   *DiffOp   `json:"diff,omitempty"`

	// Name is the build.hcl address that produced this derivation, such as
	// "stage.build/run[2]". Display only.
	Name string `json:"-"`
	// Description is a one-line human summary for plan and progress output.
	Description string `json:"-"`
	// Unresolved is set when the derivation, or one of its inputs, is a
	// source without a pin in the lockfile. Its digest is then provisional.
	Unresolved bool `json:"-"`
	// at is the derivation's position in the graph that add interned it
	// in, so that the graph needs no map of positions beside Nodes.
	at int32
	// LockAddress is the lockfile address of a fixed-output step.
	LockAddress string `json:"-"`
	// Limits bound the sandbox; they can make a step fail but never change a
	// successful result, so they are not hashed.
	Limits Limits `json:"-"`
}

// Limits are resource bounds for an exec step. Zero means the global default.
type Limits struct {
	MemoryBytes int64
	Pids        int64
	TimeoutSec  int64
}

// SourceOp is an external input identified by what pins it.
type SourceOp struct {
	// Type is one of image, http, git, local, oci-layout, deb.
	Type string `json:"type"`
	// Identifier is what was asked for: an image reference, a URL, a git
	// remote, or for local sources the path relative to the build file's
	// folder (never absolute, so the folder a checkout lives in is not
	// hashed).
	Identifier string `json:"id"`
	// Pin is what identifies the content: an image manifest digest, an
	// http sha256, a git commit, the content hash of a local directory. Empty
	// when the lockfile has no pin (the derivation is then Unresolved).
	Pin string `json:"pin,omitempty"`
	// Attrs are type-specific settings that shape the result (filename,
	// mode, include/exclude patterns, keep_git_dir, the deb request and
	// packages).
	Attrs map[string]string `json:"attrs,omitempty"`
	// Mirror is where a deb source downloads its packages when build.hcl
	// names a repository (empty: the machine's apt configuration). Not
	// hashed: every package is pinned by sha256, so the mirror cannot
	// change the result, and the same build must have the same digests on
	// machines that use different mirrors.
	Mirror string `json:"-"`
	// Mirrors are the repositories of single suites of a deb source (the
	// map form of repository), by suite; not hashed, as Mirror.
	Mirrors map[string]string `json:"-"`
	// MaxSize bounds what the source may unpack (0: the realizer's
	// default). Not hashed: it decides whether realizing succeeds, never
	// what a success produces.
	MaxSize int64 `json:"-"`
}

// ExecOp runs a command in a sandbox whose root filesystem is Inputs[0]
// (or empty when Root is -1) plus the given mounts. Its result is the root
// state with one new layer: the normalized upper directory.
type ExecOp struct {
	Args []string `json:"args"`
	// Env is sorted KEY=VALUE, including the fixed sandbox environment, so
	// that changing the sandbox defaults changes digests.
	Env      []string `json:"env"`
	Cwd      string   `json:"cwd"`
	User     string   `json:"user,omitempty"`
	Hostname string   `json:"hostname"`
	// ImageEnv says that the root state starts at an image source whose
	// config Env the realizer puts under Env, as Docker does: kiln's
	// PATH and HOME defaults, then the image's Env, then Env. The config
	// is pinned with the source, whose digest every dependent derivation
	// already covers; the flag is hashed so that changing this rule
	// changes digests.
	ImageEnv bool `json:"image_env,omitempty"`
	// Network is "none" (loopback only) or "host"-like access, allowed only
	// for fixed-output derivations.
	Network string `json:"network"`
	// Root is the index in Inputs of the root filesystem, or -1 for scratch.
	Root   int     `json:"root"`
	Mounts []Mount `json:"mounts,omitempty"`
	// OutputHash pins the output of a fixed-output derivation (the only kind
	// allowed network access), as "sha256:<hex>" of the produced layer.
	OutputHash string `json:"output_hash,omitempty"`
	// ImpureEnv names variables, sorted, whose values the realizer copies
	// from its own environment into a fixed-output step (proxies,
	// mirrors). Only the names are hashed: the values may differ between
	// machines, and the pinned OutputHash checks they change nothing.
	ImpureEnv []string `json:"impure_env,omitempty"`
	// Security is "insecure" for a step that runs with every capability
	// and no seccomp filter (security = "insecure"), empty for the default
	// sandbox. Hashed: such a step can observe and do more, so its result
	// is not interchangeable with a sandboxed one.
	Security string `json:"security,omitempty"`
}

// Mount is a non-root mount of an exec step.
type Mount struct {
	// Type is input, cache, tmpfs or secret.
	Type string `json:"type"`
	Dest string `json:"dest"`
	// Input is the index in Inputs for type input; -1 otherwise.
	Input int `json:"input"`
	// Selector is a path inside the input state to mount instead of its root.
	Selector string `json:"selector,omitempty"`
	ReadOnly bool   `json:"readonly,omitempty"`
	// CacheID names a cache mount's persistent directory. The cache's
	// contents are deliberately not hashed: like BuildKit's cache mounts,
	// they must not change the result.
	CacheID string `json:"cache_id,omitempty"`
	Sharing string `json:"sharing,omitempty"`
	// SizeBytes bounds a tmpfs.
	SizeBytes int64 `json:"size,omitempty"`
	// SecretID names a secret; its value is never hashed or stored.
	SecretID string `json:"secret_id,omitempty"`
	// SecretEnv, when set, exposes the secret as this environment variable
	// instead of a file at Dest.
	SecretEnv string `json:"secret_env,omitempty"`
	// Required fails the step when no value for the secret is given,
	// instead of running it without the secret.
	Required bool `json:"required,omitempty"`
	// SSHID names the SSH agent an ssh mount forwards (--ssh ID=SOCKET).
	// Which agent, its socket and its keys are never hashed: like a
	// secret's value, they may differ between machines and must not
	// change the result.
	SSHID string `json:"ssh_id,omitempty"`
	// Mode is the permission bits of a secret's file, or of a cache's
	// directory (0: kiln's 0755).
	Mode uint32 `json:"mode,omitempty"`
}

// FileOp applies filesystem actions on top of Inputs[Base] (or scratch when
// Base is -1). Its result is the base state plus one new layer.
type FileOp struct {
	Base    int          `json:"base"`
	Actions []FileAction `json:"actions"`
}

// FileAction is one of mkdir, mkfile, rm, copy, symlink.
type FileAction struct {
	Action string `json:"action"`
	Path   string `json:"path"`
	Mode   uint32 `json:"mode,omitempty"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	// Owner is "user[:group]" with a name in it, which the realizer
	// looks up in the base state's /etc/passwd and /etc/group, as
	// BuildKit does for COPY --chown=name (UID and GID are then 0). The
	// names are hashed, not the ids: the base state's digest already
	// covers the files they resolve against.
	Owner string `json:"owner,omitempty"`
	// Data is the content of mkfile, byte-exact.
	Data string `json:"data,omitempty"`
	// Target is the link target of symlink.
	Target string `json:"target,omitempty"`
	// SrcInput is the index in Inputs that copy reads from; Src is a path
	// in it, and may contain glob patterns.
	SrcInput int    `json:"src_input,omitempty"`
	Src      string `json:"src,omitempty"`
	// Parents creates missing parent directories (mkdir -p, copy into a
	// new directory).
	Parents bool `json:"parents,omitempty"`
	// AllowNotFound makes rm of a missing path, or copy of an empty glob,
	// succeed.
	AllowNotFound bool `json:"allow_not_found,omitempty"`
	// ChmodSet says that copy gives what it copies Mode, which may be
	// zero (chmod = "0000"), instead of each source file's own mode.
	ChmodSet bool `json:"chmod_set,omitempty"`
}

// MergeOp stacks its inputs, first at the bottom: the layer lists are
// concatenated.
type MergeOp struct{}

// DiffOp is what Inputs[1] (upper) adds on top of Inputs[0] (lower).
type DiffOp struct{}

// Digest is the sha256 of the derivation's canonical encoding.
func (d *Derivation) Digest() (digest.Digest, error) {
	sum, err := d.sum()
	if err != nil {
		return "", err
	}
	return digestOf(&sum), nil
}

// sum is the raw sha256 that Digest spells out, which the graph keys its
// look-ups by: 32 bytes hash and compare faster than 71.
func (d *Derivation) sum() ([sha256.Size]byte, error) {
	// The encoding is only hashed, so its buffer is reused: a large graph
	// hashes tens of thousands of derivations.
	bp := canonBufs.Get().(*[]byte)
	b, err := d.encode((*bp)[:0])
	sum := sha256.Sum256(b)
	*bp = b[:0]
	canonBufs.Put(bp)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sum, nil
}

// digestOf spells a sum as a digest, "sha256:<hex>".
func digestOf(sum *[sha256.Size]byte) digest.Digest {
	var s [len("sha256:") + 2*sha256.Size]byte
	copy(s[:], "sha256:")
	hex.Encode(s[len("sha256:"):], sum[:])
	return digest.Digest(s[:])
}

var canonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Canonical returns the canonical JSON encoding that Digest hashes.
func (d *Derivation) Canonical() ([]byte, error) {
	b, err := d.encode(make([]byte, 0, 512))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// encode appends d's canonical encoding to b. A string that is not valid
// UTF-8 is an error: JSON cannot carry it byte-exactly, and silently
// substituting U+FFFD would make two different inputs share a digest.
// The encoder copies every byte from 0x80 up as it is and adds only ASCII,
// so the encoding is valid UTF-8 exactly when every string in it is: one
// pass over it checks them all.
func (d *Derivation) encode(b []byte) ([]byte, error) {
	b = appendDerivation(b, d)
	if !utf8.Valid(b) {
		return b, d.badString()
	}
	return b, nil
}

// badString names the hashed string that is not valid UTF-8.
// TestDigestRejectsInvalidUTF8Everywhere fails if a hashed string field is
// missing here.
func (d *Derivation) badString() error {
	var err error
	check := func(what string, ss ...string) {
		for _, s := range ss {
			if err == nil && !utf8.ValidString(s) {
				err = fmt.Errorf("%s %q is not valid UTF-8", what, s)
			}
		}
	}
	check("kind", string(d.Kind))
	for _, in := range d.Inputs {
		check("input", string(in))
	}
	check("platform", d.Platform)
	if s := d.Source; s != nil {
		check("source type", s.Type)
		check("source identifier", s.Identifier)
		check("source pin", s.Pin)
		for k, v := range s.Attrs {
			check("source attribute", k, v)
		}
	}
	if e := d.Exec; e != nil {
		check("argument", e.Args...)
		check("environment entry", e.Env...)
		check("impure environment name", e.ImpureEnv...)
		check("working directory", e.Cwd)
		check("user", e.User)
		check("hostname", e.Hostname)
		check("network", e.Network)
		check("output hash", e.OutputHash)
		check("security", e.Security)
		for _, m := range e.Mounts {
			check("mount type", m.Type)
			check("mount destination", m.Dest)
			check("mount selector", m.Selector)
			check("cache id", m.CacheID)
			check("cache sharing", m.Sharing)
			check("secret id", m.SecretID)
			check("secret variable", m.SecretEnv)
			check("ssh id", m.SSHID)
		}
	}
	if f := d.File; f != nil {
		for _, a := range f.Actions {
			check("file action", a.Action)
			check("path", a.Path)
			check("file content", a.Data)
			check("link target", a.Target)
			check("copy source", a.Src)
			check("owner", a.Owner)
		}
	}
	if err == nil {
		err = errNoStringNamed
	}
	return err
}

var errNoStringNamed = errors.New("a string in the derivation is not valid UTF-8")
