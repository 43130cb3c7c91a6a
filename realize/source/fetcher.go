package source

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kiln-build/kiln/internal/infolder"
)

// Fetcher fetches one kind of source. Each kind lives in its own file and
// is registered in fetchers; adding a kind is one file and one line there.
type Fetcher interface {
	// Fetch fetches req's source, checking it against req.Pin, into
	// directories from req.NewDir.
	Fetch(ctx context.Context, req *Request) (Fetched, error)
}

// fetchers are the source kinds kiln can fetch, by their type
// (compiler.SourceOp.Type).
var fetchers = map[string]Fetcher{
	"local":      localFetcher{},
	"http":       httpFetcher{},
	"git":        gitFetcher{},
	"deb":        debFetcher{},
	"image":      imageFetcher{},
	"oci-layout": ociLayoutFetcher{},
}

// Lookup returns the Fetcher of a source type.
func Lookup(kind string) (Fetcher, bool) {
	f, ok := fetchers[kind]
	return f, ok
}

// Request is one source to fetch: the source as the compiler lowered it
// (compiler.SourceOp), and what the realizer provides for fetching it.
type Request struct {
	// Identifier is what was asked for: an image reference, a URL, a git
	// remote, a path in the build folder.
	Identifier string
	// Pin identifies the content the source must have.
	Pin string
	// Attrs are the kind's own settings.
	Attrs map[string]string
	// Mirror is where a deb source's packages are downloaded from (""
	// for the machine's apt configuration).
	Mirror string
	// Mirrors are the repositories of single suites, by suite; they win
	// over Mirror for their suite.
	Mirrors map[string]string
	// MaxSize bounds what the source may unpack (0: DefaultMaxSize).
	MaxSize int64
	// Platform is what an image source is selected for.
	Platform string
	// Epoch is the build's SOURCE_DATE_EPOCH.
	Epoch int64
	// Folder is the build file's folder, where local and oci-layout
	// sources live.
	Folder string
	// NewDir returns a fresh empty directory that can become a layer of
	// the store. The caller removes those it does not keep.
	NewDir func() (string, error)
	// Insecure says whether plain http is allowed for an image
	// reference's registry.
	Insecure func(ref string) bool
	// Debs holds deb packages across builds.
	Debs DebCache
}

// Fetched is what a Fetcher produced: a directory of files that becomes
// the source's one layer, or an image.
type Fetched struct {
	Tree  string
	Image *Image
}

// inFolder resolves a path of the build folder. The build file was checked
// when it was loaded, but the folder may have changed since: a symlink
// swapped in must not make the build read the host.
func (req *Request) inFolder(rel string) (string, error) {
	p, err := infolder.Join(req.Folder, filepath.FromSlash(rel))
	if err != nil {
		return "", fmt.Errorf("source path %q leads outside the build folder %s (%v); only the build folder and its sub-folders can be sources", rel, req.Folder, err)
	}
	return p, nil
}

// splitLines reads a list attribute, one item a line.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
