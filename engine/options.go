package engine

// DefaultFile is the build file kiln looks for when none is named. A file
// found rather than named must be its folder's own (see InBuildFolder).
const DefaultFile = "build.hcl"

// Options configure a Session. The zero value of each field is a sensible
// default except File.
type Options struct {
	// File is the build file. DefaultFile means it was found, not named:
	// then it must not be a symlink leading out of its folder.
	File string
	// Vars set variables by name; VarFiles are .kilnvars.hcl files read
	// in order. Environ (os.Environ form) is where KILN_VAR_NAME values
	// and SOURCE_DATE_EPOCH are looked up; nil is an empty environment,
	// so that a session does not depend on the process's by accident.
	Vars     map[string]string
	VarFiles []string
	Environ  []string
	// SourceDateEpoch is the epoch as the user gave it (--source-date-
	// epoch), used when the build file sets none; empty falls back to
	// the environment, the build file's last git commit, then 0.
	SourceDateEpoch string
	// StoreRoot is the store's root directory (empty: store.DefaultRoot).
	StoreRoot string
	// TolerateAbnormalLock loads a lock that is readable but not in normal
	// form instead of failing (kiln lock, which rewrites it).
	TolerateAbnormalLock bool

	// Jobs bounds the derivations built at once (0: the CPU count).
	Jobs int
	// KeepGoing builds everything not depending on a failure instead of
	// stopping at the first.
	KeepGoing bool
	// Locked refuses to build when the lock is incomplete or stale.
	Locked bool
	// Secrets are secret mount specs: id=ID,src=FILE or id=ID,env=VAR.
	Secrets []string
	// SSH are --ssh specs, as buildx's: ID forwards the agent of
	// $SSH_AUTH_SOCK (from Environ), ID=SOCKET the agent at SOCKET.
	SSH []string
	// NoCache builds again every derivation the targets need but the
	// sources (--no-cache); NoCacheFilter only the steps of these stages
	// (--no-cache-filter, "NAME" or "stage.NAME").
	NoCache       bool
	NoCacheFilter []string
	// Platforms are --platform values: they replace the platforms of the
	// targets (images, artifacts, and stages that name none), as buildx's
	// --platform does.
	Platforms []string
	// AllowInsecure lets steps with security = "insecure" run.
	AllowInsecure bool
	// RequireLimits fails a build whose steps' memory and pids limits
	// cannot be enforced (kiln run by a normal user without delegated
	// cgroups) instead of warning once and going on.
	RequireLimits bool
	// Shuffle starts independent steps in a random order (kiln verify).
	Shuffle bool
	// CacheFrom and CacheTo are --cache-from and --cache-to specs (see
	// package cache). When one is empty, KILN_CACHE_FROM or KILN_CACHE_TO
	// in Environ gives it, else the build file's cache_from or cache_to.
	CacheFrom []string
	CacheTo   []string
	// IgnoreCaches ignores every cache setting (flags, environment, build
	// file): kiln verify's rebuilds are from nothing.
	IgnoreCaches bool
	// NoGC turns automatic garbage collection off for this session (as
	// KILN_GC=off in Environ does).
	NoGC bool
	// BuildKit are buildkitd addresses (--buildkit; KILN_BUILDKIT_HOST in
	// Environ adds one): exec steps run there instead of the local
	// sandbox, on the least-loaded daemon.
	BuildKit []string
	// BuildKitFallbackLocal runs steps in the local sandbox once no
	// daemon is left (--buildkit-fallback local).
	BuildKitFallbackLocal bool
	// BuildKitTLSDir holds ca.pem, cert.pem and key.pem for tcp://
	// daemons (--buildkit-tlsdir, as buildctl's --tlsdir).
	BuildKitTLSDir string

	// BuilderVersion is kiln's version, as attestations record it
	// (empty: "devel").
	BuilderVersion string

	// ShortLived: the process ends soon after Close, as a command does
	// (see store.WithShortLived).
	ShortLived bool
	// OpenStoreEarly starts opening the store while Open loads the build
	// file, for a session that is going to build: opening the store is
	// mostly waiting on the disk and on badger's start, which then
	// overlaps the parse. A failed load closes it again.
	OpenStoreEarly bool

	// Events receives the session's progress; nil discards it. While
	// steps run it is called from several goroutines at once.
	Events func(Event)
}
