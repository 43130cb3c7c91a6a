package resolve

import (
	"context"
	"net/http"

	"github.com/kiln-build/kiln/lockfile"
)

// Resolver resolves one input of a source kind to its lock entry: it looks
// the request up (a tag, a branch, a URL, a suite) and records what it
// names today.
type Resolver interface {
	Resolve(ctx context.Context, in *lockfile.Input) (*lockfile.Entry, error)
}

// ResolverFunc makes a function a Resolver.
type ResolverFunc func(ctx context.Context, in *lockfile.Input) (*lockfile.Entry, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, in *lockfile.Input) (*lockfile.Entry, error) {
	return f(ctx, in)
}

// Env is what one Update lends the resolvers it makes: the build file's
// folder, the network and a place for scratch files.
type Env struct {
	// Dir is the build file's folder; paths in sources are relative to it.
	Dir string
	// Transport serves registries; Client (over the same transport) serves
	// plain downloads.
	Transport http.RoundTripper
	Client    *http.Client
	// TempDir holds scratch repositories.
	TempDir string
}

// kinds makes the resolver of each source kind kiln locks, by kind: the
// one place a new kind registers. UpdateOptions.Resolvers can replace one
// (the CLI gives deb its index cache). Fixed-output run steps are not
// here: they are built, not looked up (resolveRun).
var kinds = map[string]func(Env) Resolver{
	lockfile.TypeImage:     newImageResolver,
	lockfile.TypeHTTP:      newHTTPResolver,
	lockfile.TypeGit:       newGitResolver,
	lockfile.TypeOCILayout: newOCILayoutResolver,
	lockfile.TypeDeb:       newDebResolver,
}

// resolvers returns one resolver per registered kind for env, with
// override's in place of the built-in ones.
func resolvers(env Env, override map[string]Resolver) map[string]Resolver {
	out := make(map[string]Resolver, len(kinds)+len(override))
	for k, mk := range kinds {
		out[k] = mk(env)
	}
	for k, r := range override {
		if r != nil {
			out[k] = r
		}
	}
	return out
}
