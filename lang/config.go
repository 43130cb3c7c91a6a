package lang

import (
	"github.com/hashicorp/hcl/v2"
)

// Config is an evaluated build.hcl: every expression has been evaluated,
// every reference checked, every variable bound. It is what the compiler
// lowers; it holds no cty values, so the compiler needs no HCL knowledge
// beyond source ranges for diagnostics.
type Config struct {
	// Dir is the absolute folder of the build file. It is used to find
	// local sources and the lockfile, and never hashed.
	Dir string
	// Filename is the build file's name relative to Dir (build.hcl).
	Filename string

	Project   Project
	Variables map[string]string // evaluated variable values, rendered for display

	// Blocks in the order the file declares them; names are unique per kind.
	Sources   []*Source
	Stages    []*Stage
	Images    []*Image
	Artifacts []*Artifact
	Groups    []*Group

	// TargetPlatform is the platform target_platform was bound to: the
	// project's platform, else the build platform. ForPlatform gives the
	// file evaluated for another.
	TargetPlatform string
	views          *platformViews
}

// Project is the kiln { ... } block.
type Project struct {
	// SourceDateEpoch is nil when build.hcl does not set it; the CLI then
	// applies its own order (flag, environment, git, 0).
	SourceDateEpoch *int64
	// Platform is the default os/arch[/variant] of stages and images.
	Platform string
	// Default lists the targets built when none is named.
	Default []string
	// CacheFrom and CacheTo are the caches a build imports from and
	// exports to when neither the command line nor the environment names
	// any (cache_from, cache_to: specs as --cache-from and --cache-to
	// take them; package cache parses them).
	CacheFrom []CacheSpec
	CacheTo   []CacheSpec
	Range     hcl.Range
}

// CacheSpec is one spec of cache_from or cache_to, with where it is
// written for diagnostics.
type CacheSpec struct {
	Spec  string
	Range hcl.Range
}

// Ref is a reference to another block, written as a traversal in build.hcl:
// source.image.base, stage.build. The zero Ref (Kind "") means scratch.
type Ref struct {
	Kind  string // "source", "stage", or "" for scratch
	Type  string // the source type, for Kind "source"
	Name  string
	Range hcl.Range // where the reference is written
}

// IsScratch reports whether r is the empty state.
func (r Ref) IsScratch() bool { return r.Kind == "" }

// Address is the build.hcl address of the referenced block, as used in the
// lockfile and in diagnostics: "source.image.base", "stage.build".
func (r Ref) Address() string {
	switch r.Kind {
	case "":
		return "scratch"
	case "source":
		return "source." + r.Type + "." + r.Name
	default:
		return r.Kind + "." + r.Name
	}
}

// Source is a source "TYPE" "NAME" block.
type Source struct {
	Type, Name string
	DeclRange  hcl.Range

	// image: Ref is the reference asked for (registry/repo:tag or @digest);
	// Platforms are locked all at once.
	Ref       string
	Platforms []string

	// http: URL and the file name it is stored under inside the state
	// (default: the URL's last path element). Mode defaults to 0644.
	URL      string
	Filename string
	Mode     uint32

	// git: URL is the remote, GitRef the branch or tag asked for.
	GitRef     string
	KeepGitDir bool

	// local and oci-layout: Path is relative to the build file's folder.
	// Include/Exclude are patterns as in .dockerignore.
	Path    string
	Include []string
	Exclude []string

	// deb: packages resolved against a Debian repository (docs/deb.md).
	// Suite is the request's suites as debian.FormatSuites writes them
	// ("bookworm", or "bookworm bookworm-security=990" for several, with
	// their pin priorities).
	Packages     []string
	Suite        string
	Architecture string
	Repository   string
	// SuiteRepositories and SuiteSignedBy are the map forms of
	// repository and signed_by: a repository (and its keyring) per suite,
	// for suites served from different places. Not hashed.
	SuiteRepositories map[string]string
	SuiteSignedBy     map[string]string
	// SignedBy is the keyring (absolute) that checks an explicit
	// repository's InRelease, else apt's trusted keyrings do; Trusted
	// skips the check, as apt's trusted=yes. Neither is hashed: the lock
	// pins every package by sha256.
	SignedBy string
	Trusted  bool

	// MaxSize bounds what the source may unpack (max_size; 0: kiln's
	// default). Not hashed: it decides whether fetching succeeds, never
	// what a success produces.
	MaxSize int64
}

// Address is "source.TYPE.NAME".
func (s *Source) Address() string { return "source." + s.Type + "." + s.Name }

// Stage is a stage "NAME" block: a chain of steps on top of From.
type Stage struct {
	Name      string
	DeclRange hcl.Range

	From     Ref
	Platform string // empty: the project default
	Env      map[string]string
	Workdir  string
	User     string
	// Shell runs the stage's run steps' shell lines, like a Dockerfile's
	// SHELL (default ["/bin/sh", "-c"]); the line is its last argument.
	Shell   []string
	Network string // "none" (default) or "host"
	Limits  Limits

	Steps []*Step
}

// Address is "stage.NAME".
func (s *Stage) Address() string { return "stage." + s.Name }

// Limits are a stage's or step's sandbox limits; zero means inherit.
type Limits struct {
	MemoryBytes int64
	Pids        int64
	TimeoutSec  int64
}

// Step is one sub-block of a stage, in file order. Kind says which fields
// apply: run, copy, mkdir, file, symlink, remove, env, workdir, user.
type Step struct {
	Kind  string
	Range hcl.Range

	// run: Args is the exec form; Shell, when set, runs as ["/bin/sh", "-c",
	// Shell]. Env/Workdir/User/Network override the stage's for this step.
	Args    []string
	Shell   string
	Env     map[string]string
	Workdir string
	User    string
	Network string
	Mounts  []*Mount
	Limits  Limits
	// OutputHash makes a run step fixed-output (network allowed), pinned
	// in the lockfile by its address.
	FixedOutput bool
	// ImpureEnv names environment variables of kiln's own process passed
	// to a fixed-output step at build time (proxies, mirrors), like Nix's
	// impureEnvVars: the names are hashed, the values are not, since the
	// pinned output hash already says what the step must produce.
	ImpureEnv []string
	// Insecure is security = "insecure": the step runs with every
	// capability and no seccomp filter, as BuildKit's RUN
	// --security=insecure. Hashed, so turning it on or off rebuilds.
	Insecure bool

	// copy: From is the state to copy out of (scratch From means the
	// stage's own previous state is not used: copy needs a From). Src are
	// paths or globs in it; Dest is a path in the stage.
	From  Ref
	Src   []string
	Dest  string
	Chown string // "uid:gid" numeric, or user[:group] with names (copy, mkdir, file)
	Chmod string // octal, empty to keep

	// mkdir, file, symlink, remove: Path; Content for file; Target for
	// symlink; Mode octal; Parents for mkdir.
	Path    string
	Content string
	Target  string
	Mode    string
	Parents bool
}

// Mount is a mount "TYPE" { ... } block of a run step.
type Mount struct {
	Type      string // input, cache, tmpfs, secret, ssh
	Range     hcl.Range
	Target    string
	From      Ref    // input
	Source    string // input: path inside From
	ReadWrite bool   // input mounts are read-only unless this is set
	ID        string // cache id, secret id or ssh agent id (default "default")
	Sharing   string // cache: shared, private, locked
	SizeBytes int64  // tmpfs
	Env       string // secret: expose as env var instead of a file
	Required  bool   // secret, ssh
	Mode      string // secret/cache file mode, octal
}

// Image is an image "NAME" block, an exportable target.
type Image struct {
	Name      string
	DeclRange hcl.Range

	From      Ref
	Platforms []string // empty: the project default

	Entrypoint  []string
	Cmd         []string
	Env         map[string]string
	Workdir     string
	User        string
	Labels      map[string]string
	Annotations map[string]string
	Expose      []string
	Volumes     []string
	StopSignal  string
	Squash      bool
	// Healthcheck is the healthcheck block (Dockerfile HEALTHCHECK); nil
	// keeps the base image's.
	Healthcheck *Healthcheck
	// Shell is the config's Shell (Dockerfile SHELL), which docker uses
	// for the shell form of later builds' RUN, CMD and ENTRYPOINT.
	Shell []string
	// OnBuild are the config's OnBuild triggers (Dockerfile ONBUILD),
	// instructions for builds that use this image as their base.
	OnBuild []string

	Compression      string // gzip (default), zstd, estargz, uncompressed
	CompressionLevel *int
	Outputs          []string // --output specs declared in the block
	Tags             []string
	// Attest are --attest specs (type=provenance[,mode=max], type=sbom),
	// as bake's attest attribute: the image's exports carry them.
	Attest []string
}

// Healthcheck is how a container of the image is checked, as docker's
// config Healthcheck: Test is ["CMD", args...], ["CMD-SHELL", line] or
// ["NONE"]; durations are in seconds, 0 meaning docker's default.
type Healthcheck struct {
	Test                              []string
	IntervalSec, TimeoutSec, StartSec int64
	Retries                           int64
}

// Address is "image.NAME".
func (i *Image) Address() string { return "image." + i.Name }

// Artifact is an artifact "NAME" block: files out of a state.
type Artifact struct {
	Name      string
	DeclRange hcl.Range

	From      Ref
	Platforms []string
	Paths     []string // paths inside From; empty means the whole state
	Outputs   []string
}

// Address is "artifact.NAME".
func (a *Artifact) Address() string { return "artifact." + a.Name }

// Group is a group "NAME" block: a named set of targets.
type Group struct {
	Name      string
	DeclRange hcl.Range
	Targets   []string
}
