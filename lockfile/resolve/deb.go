package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kiln-build/kiln/internal/debian"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
)

// DebOptions configure the deb resolver.
type DebOptions struct {
	// AptRoot is where etc/apt is read from; empty means "/", the machine.
	AptRoot string
	// CacheDir keeps verified Packages indexes between runs; empty
	// disables the cache.
	CacheDir string
	// Client fetches indexes; nil means http.DefaultClient.
	Client *http.Client
}

// DebResolver returns the resolver of deb sources: it reads the suite's
// Packages index from the repository the source names, else from the one
// the machine's apt configuration lists for the suite (never recording
// its host), and pins the dependency closure of the named packages
// (debian.Index.Resolve). Sources sharing a repository and suite share
// one download of the index.
func DebResolver(opts DebOptions) Resolver {
	var mu sync.Mutex
	indexes := map[string]*debIndex{}
	// indexFor is the one entry of key, made on first use; its once
	// fills it.
	indexFor := func(key string) *debIndex {
		mu.Lock()
		defer mu.Unlock()
		di := indexes[key]
		if di == nil {
			di = &debIndex{}
			indexes[key] = di
		}
		return di
	}
	return ResolverFunc(func(ctx context.Context, in *lockfile.Input) (*lockfile.Entry, error) {
		s := in.Source
		// sharedIndex is one suite's index, downloaded once for every
		// source that reads it from the same repository.
		sharedIndex := func(ctx context.Context, suite string) (string, *debian.Index, error) {
			repo, err := debRepo(opts, s, suite, s.Architecture)
			if err != nil {
				return "", nil, err
			}
			key := repo.URI + " " + repo.Suite + " " + repo.Arch + " " + strings.Join(repo.Components, ",") + " " + strings.Join(repo.Keyrings, ",")
			di := indexFor(key)
			di.once.Do(func() { di.ix, di.err = repo.Index(ctx) })
			return key, di.ix, di.err
		}
		if s.Suite == "" {
			return nil, errors.New(`set suite (for example suite = "bookworm"): the deb source has none`)
		}
		if s.Architecture == "" {
			return nil, errors.New(`set architecture (for example architecture = "amd64"): the deb source has none`)
		}
		if len(s.Packages) == 0 {
			return nil, errors.New("list at least one package in packages")
		}
		suites, err := debian.ParseSuites(s.Suite)
		if err != nil {
			return nil, fmt.Errorf("suite: %w", err)
		}
		// apt's view: every suite's index in one, each version with its
		// suite's pin priority; the closure then crosses suites freely.
		// Sources on the same suites and pins share one merged index.
		parts := make([]*debian.Index, len(suites))
		keys := make([]string, len(suites))
		for i, sp := range suites {
			if keys[i], parts[i], err = sharedIndex(ctx, sp.Name); err != nil {
				return nil, err
			}
			keys[i] += fmt.Sprintf(" pin %d", sp.Pin)
		}
		var ix *debian.Index
		if len(suites) == 1 && suites[0].Pin >= 0 {
			// One suite: every version has the same priority, so the
			// index answers as it is, without a copy.
			ix = parts[0]
		} else {
			key := "merged\n" + strings.Join(keys, "\n")
			di := indexFor(key)
			di.once.Do(func() {
				di.ix = debian.NewIndex(s.Architecture)
				for i, sp := range suites {
					di.ix.Merge(parts[i], sp.Pin)
				}
			})
			ix = di.ix
		}
		pkgs, err := ix.Resolve(s.Packages, debian.ResolveOptions{})
		if err != nil {
			if len(suites) > 1 {
				return nil, fmt.Errorf("resolving against suites %s (%s): %w", strings.Join(suiteNames(suites), ", "), s.Architecture, err)
			}
			var nf *debian.NotFoundError
			if errors.As(err, &nf) && len(nf.Chain) > 0 {
				// An update suite (bookworm-security, -updates, -backports)
				// holds only what changed: the rest is in its base suite.
				return nil, fmt.Errorf("resolving against suite %s (%s): %w; if %s holds only updates, list it with its base suite: suite = [\"BASE\", \"%s\"]", s.Suite, s.Architecture, err, s.Suite, s.Suite)
			}
			return nil, fmt.Errorf("resolving against suite %s (%s): %w", s.Suite, s.Architecture, err)
		}
		e := &lockfile.Entry{
			Address: in.Address, Type: lockfile.TypeDeb,
			Suite: s.Suite, Architecture: s.Architecture,
			Packages: append([]string(nil), s.Packages...),
		}
		for _, p := range pkgs {
			e.Debs = append(e.Debs, lockfile.Deb{Name: p.Name, Version: p.Version, Architecture: p.Architecture, Filename: p.Filename, SHA256: p.SHA256, Size: p.Size})
		}
		return e, nil
	})
}

// resolveDebArches locks a deb source for each of in.Arches in one run,
// against the same suites as this run reads them, so that `kiln lock
// --update` moves every architecture together: the first (sorted) is the
// entry, the others its Others.
func resolveDebArches(ctx context.Context, r Resolver, in *lockfile.Input) (*lockfile.Entry, error) {
	var main *lockfile.Entry
	for _, a := range in.Arches {
		e, err := ResolveDebArch(ctx, r, in, a)
		if err != nil {
			return nil, err
		}
		if main == nil {
			main = e
		} else {
			main.Others = append(main.Others, e)
		}
	}
	return main, nil
}

// ResolveDebArch resolves a deb source's packages for the Debian
// architecture arch instead of the one the source names (debian.ArchFor
// turns a platform into it): the closure of the same packages in arch's
// Packages index, with the "all" packages it needs, each pinned with its
// own architecture. It is the one call a build for several platforms
// makes per platform; the source itself is not changed. r is a deb
// resolver (DebResolver), whose index downloads are shared between
// architectures only where the index is the same.
func ResolveDebArch(ctx context.Context, r Resolver, in *lockfile.Input, arch string) (*lockfile.Entry, error) {
	if in.Source == nil || in.Source.Type != "deb" {
		return nil, fmt.Errorf("%s is not a deb source", in.Address)
	}
	src := *in.Source
	src.Architecture = arch
	one := *in
	one.Source = &src
	one.Arches = nil
	return r.Resolve(ctx, &one)
}

// newDebResolver is the deb resolver an Update makes by itself: the
// machine's apt configuration, no index cache.
func newDebResolver(env Env) Resolver { return DebResolver(DebOptions{Client: env.Client}) }

func suiteNames(ss []debian.SuiteSpec) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

type debIndex struct {
	once sync.Once
	ix   *debian.Index
	err  error
}

// debRepo picks the repository of a suite: the source's explicit one,
// else the first apt source listing the suite (with its components and
// keyring). Its Release file is checked as apt would check it.
func debRepo(opts DebOptions, src *lang.Source, suite, arch string) (*debian.Repo, error) {
	r := &debian.Repo{Suite: suite, Arch: arch, Client: opts.Client, CacheDir: opts.CacheDir}
	root := opts.AptRoot
	if root == "" {
		root = "/"
	}
	uri, signedBy := src.Repository, src.SignedBy
	if u := src.SuiteRepositories[suite]; u != "" {
		uri = u
	}
	if k := src.SuiteSignedBy[suite]; k != "" {
		signedBy = k
	}
	if uri != "" {
		r.URI = strings.TrimSuffix(uri, "/")
		r.Components = []string{"main"}
		keyrings, err := debKeyrings(root, src.Trusted, signedBy, "set signed_by = KEYRING in the deb source, or trusted = true to skip the check")
		if err != nil {
			return nil, fmt.Errorf("repository %s, suite %s: %w", r.URI, suite, err)
		}
		r.Keyrings = keyrings
		return r, nil
	}
	srcs, err := debian.ReadAptSources(root)
	if err != nil {
		return nil, fmt.Errorf("reading the apt configuration: %w", err)
	}
	s, err := debian.FindSuite(srcs, suite)
	if err != nil {
		return nil, err
	}
	r.URI, r.Components = s.URI, s.Components
	keyrings, err := debKeyrings(root, s.Trusted, s.SignedBy, "add signed-by=KEYRING to the apt source, or trusted=yes to skip the check")
	if err != nil {
		return nil, fmt.Errorf("the apt source of suite %s: %w", suite, err)
	}
	r.Keyrings = keyrings
	return r, nil
}

// debKeyrings are the keyrings a Release file is checked against, as apt
// chooses them: none when trusted, the signed-by keyring, else apt's
// trusted keyrings under root.
func debKeyrings(root string, trusted bool, signedBy, fix string) ([]string, error) {
	switch {
	case trusted:
		return nil, nil
	case signedBy != "":
		return []string{signedBy}, nil
	}
	k := debian.TrustedKeyrings(root)
	if len(k) == 0 {
		return nil, fmt.Errorf("no signed-by keyring, and %s holds no trusted keys, so the Release file cannot be checked; %s", filepath.Join(root, "etc/apt/trusted.gpg.d"), fix)
	}
	return k, nil
}
