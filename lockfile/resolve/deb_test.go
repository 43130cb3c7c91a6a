package resolve

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
)

// TestDebResolverSuites: two sources on the same suites and pins share
// the downloads and the merged index, and get apt's answers; a pin makes
// another source choose differently from the same indexes.
func TestDebResolverSuites(t *testing.T) {
	deb := func(name, version, depends string) testutil.DebPackage {
		return testutil.DebPackage{Name: name, Version: version, Depends: depends,
			Deb: testutil.Deb(t, name, version, "amd64", "data.tar", testutil.Tar(t))}
	}
	repo := testutil.NewDebRepo(t, "amd64")
	repo.Publish(t, "bookworm", "", []testutil.DebPackage{deb("libc6", "1.0-1", "libgcc-s1"), deb("libgcc-s1", "12", ""), deb("tool", "1", "libc6")})
	repo.Publish(t, "bookworm-security", "", []testutil.DebPackage{deb("libc6", "1.0-2", "libgcc-s1")})
	var inReleases atomic.Int32
	client := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if strings.HasSuffix(req.URL.Path, "/InRelease") {
			inReleases.Add(1)
		}
		return http.DefaultTransport.RoundTrip(req)
	})}
	r := DebResolver(DebOptions{Client: client})
	src := func(name, suite string, pkgs ...string) *lockfile.Input {
		return &lockfile.Input{Address: "source.deb." + name, Type: lockfile.TypeDeb, Source: &lang.Source{
			Type: "deb", Name: name, Packages: pkgs, Suite: suite, Architecture: "amd64",
			Repository: repo.URL, SignedBy: repo.Keyring}}
	}
	versions := func(e *lockfile.Entry) string {
		var out []string
		for _, d := range e.Debs {
			out = append(out, d.Name+" "+d.Version)
		}
		return strings.Join(out, ", ")
	}
	for _, tc := range []struct {
		in   *lockfile.Input
		want string
	}{
		{src("a", "bookworm bookworm-security", "libc6"), "libc6 1.0-2, libgcc-s1 12"},
		{src("b", "bookworm bookworm-security", "tool"), "libc6 1.0-2, libgcc-s1 12, tool 1"},
		{src("c", "bookworm bookworm-security=100", "tool"), "libc6 1.0-1, libgcc-s1 12, tool 1"},
		{src("d", "bookworm", "libc6"), "libc6 1.0-1, libgcc-s1 12"},
	} {
		e, err := r.Resolve(context.Background(), tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in.Address, err)
		}
		if got := versions(e); got != tc.want {
			t.Errorf("%s (%s): %s, want %s", tc.in.Address, tc.in.Source.Suite, got, tc.want)
		}
	}
	if n := inReleases.Load(); n != 2 {
		t.Errorf("%d InRelease downloads, want 2 (one per suite)", n)
	}
	_, err := r.Resolve(context.Background(), src("e", "bookworm-security", "libc6"))
	if err == nil || !strings.Contains(err.Error(), `list it with its base suite: suite = ["BASE", "bookworm-security"]`) {
		t.Errorf("bookworm-security alone: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestResolveDebArch: the same source resolved for another architecture
// reads that architecture's index and pins its packages; the source keeps
// its own.
func TestResolveDebArch(t *testing.T) {
	pkg := func(name, arch, depends string) testutil.DebPackage {
		return testutil.DebPackage{Name: name, Version: "1", Depends: depends,
			Deb: testutil.Deb(t, name, "1", arch, "data.tar", testutil.Tar(t))}
	}
	repo := testutil.NewDebRepo(t, "arm64")
	repo.Publish(t, "bookworm", "", []testutil.DebPackage{pkg("libc6", "arm64", ""), pkg("tool", "arm64", "libc6:any")})
	in := &lockfile.Input{Address: "source.deb.t", Type: lockfile.TypeDeb, Source: &lang.Source{
		Type: "deb", Name: "t", Packages: []string{"tool"}, Suite: "bookworm", Architecture: "amd64",
		Repository: repo.URL, SignedBy: repo.Keyring}}
	r := DebResolver(DebOptions{})
	e, err := ResolveDebArch(context.Background(), r, in, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if e.Architecture != "arm64" || len(e.Debs) != 2 {
		t.Fatalf("entry for arm64: architecture %q, %d packages", e.Architecture, len(e.Debs))
	}
	for _, d := range e.Debs {
		if d.Architecture != "arm64" || !strings.HasSuffix(d.Filename, "_arm64.deb") {
			t.Errorf("package %s: architecture %s, %s", d.Name, d.Architecture, d.Filename)
		}
	}
	if in.Source.Architecture != "amd64" {
		t.Errorf("the source's architecture became %s", in.Source.Architecture)
	}
	// The repository has no amd64 index: the source as written fails,
	// naming the index it looked for.
	if _, err := r.Resolve(context.Background(), in); err == nil || !strings.Contains(err.Error(), "binary-amd64") {
		t.Errorf("resolving for amd64 against an arm64-only repository: %v", err)
	}
}
