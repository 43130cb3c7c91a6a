package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
)

// mergeDriverEnv makes the test binary act as `kiln lock --merge` when git
// runs it as a merge driver, so the driver test needs no built kiln.
const mergeDriverEnv = "KILN_TEST_LOCK_MERGE_DRIVER"

func TestMain(m *testing.M) {
	if os.Getenv(mergeDriverEnv) == "1" {
		if len(os.Args) != 4 {
			fmt.Fprintln(os.Stderr, "merge driver: want BASE OURS THEIRS")
			os.Exit(2)
		}
		if err := lockfile.MergeFiles(os.Args[1], os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// --- fixtures ---------------------------------------------------------------

type files struct {
	mu sync.Mutex
	m  map[string]string
}

func (f *files) set(p, content string) { f.mu.Lock(); f.m[p] = content; f.mu.Unlock() }

// startHTTP serves f's files; anything else is a 404.
func startHTTP(t *testing.T) (*httptest.Server, *files) {
	f := &files{m: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		c, ok := f.m[r.URL.Path]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, c)
	}))
	t.Cleanup(srv.Close)
	return srv, f
}

func run(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := newCmd(dir, env, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func newCmd(dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// gitRepo makes a repository with one commit on main; commit adds more.
type gitRepo struct {
	t   *testing.T
	dir string
	n   int
}

func newGitRepo(t *testing.T) *gitRepo {
	g := &gitRepo{t: t, dir: t.TempDir()}
	run(t, g.dir, nil, "git", "init", "-q", "-b", "main")
	g.commit("first")
	return g
}

func (g *gitRepo) url() string { return "file://" + g.dir }

func (g *gitRepo) commit(content string) string {
	g.n++
	os.WriteFile(filepath.Join(g.dir, "f"), []byte(content), 0o644)
	run(g.t, g.dir, nil, "git", "add", "f")
	date := fmt.Sprintf("GIT_COMMITTER_DATE=%d +0000", 1700000000+g.n)
	run(g.t, g.dir, []string{date, "GIT_AUTHOR_DATE=" + strings.TrimPrefix(date, "GIT_COMMITTER_DATE=")}, "git", "commit", "-q", "-m", content)
	return run(g.t, g.dir, nil, "git", "rev-parse", "HEAD")
}

func ref(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func randomImage(t *testing.T, os_, arch string) v1.Image {
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = os_, arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushIndex pushes a two-platform index under r and returns its digest and
// the platforms' manifest digests.
func pushIndex(t *testing.T, r string) (string, map[string]string) {
	amd, arm := randomImage(t, "linux", "amd64"), randomImage(t, "linux", "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	if err := remote.WriteIndex(ref(t, r), idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	da, _ := amd.Digest()
	dr, _ := arm.Digest()
	return d.String(), map[string]string{"linux/amd64": da.String(), "linux/arm64/v8": dr.String()}
}

func pushImage(t *testing.T, r string) string {
	img := randomImage(t, "linux", "amd64")
	if err := remote.Write(ref(t, r), img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// writeLayout writes a one-image OCI layout named v1 under dir/rel.
func writeLayout(t *testing.T, dir, rel string) string {
	img := randomImage(t, "linux", "amd64")
	p, err := layout.Write(filepath.Join(dir, rel), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// blocks splits a lock into its header and blocks, keyed by first line.
func blocks(b []byte) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(string(b), "\n\n") {
		first, _, _ := strings.Cut(part, "\n")
		out[first] = part
	}
	return out
}

// onlyBlockChanged fails unless a and b differ exactly in the block whose
// first line is header.
func onlyBlockChanged(t *testing.T, a, b []byte, header string) {
	t.Helper()
	ba, bb := blocks(a), blocks(b)
	if ba[header] == bb[header] {
		t.Errorf("block %s did not change", header)
	}
	delete(ba, header)
	delete(bb, header)
	if diff := cmp.Diff(ba, bb); diff != "" {
		t.Errorf("blocks other than %s changed (-old +new):\n%s", header, diff)
	}
	la, lb := strings.Count(string(a), "\n"), strings.Count(string(b), "\n")
	if la != lb {
		t.Errorf("line count changed %d -> %d", la, lb)
	}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func changeLines(cs []lockfile.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

// --- tests ------------------------------------------------------------------

func TestUpdateMovesExactlyOneInput(t *testing.T) {
	reg := testutil.StartRegistry(t)
	srv, fs := startHTTP(t)
	repo := newGitRepo(t)
	dir := t.TempDir()

	idxRef := reg.Addr + "/multi:v1"
	idxDigest, plat := pushIndex(t, idxRef)
	oneRef := reg.Addr + "/single:1.0"
	oneDigest := pushImage(t, oneRef)
	fs.set("/tool.tar", "tool v1")
	commit1 := repo.commit("second")
	layoutDigest := writeLayout(t, dir, "vendor/rootfs")

	cfg := &lang.Config{
		Dir: dir, Filename: "build.hcl", Project: lang.Project{Platform: "linux/amd64"},
		Sources: []*lang.Source{
			{Type: "image", Name: "multi", Ref: idxRef, Platforms: []string{"linux/amd64", "linux/arm64/v8"}},
			{Type: "image", Name: "single", Ref: oneRef},
			{Type: "http", Name: "tool", URL: srv.URL + "/tool.tar"},
			{Type: "git", Name: "src", URL: repo.url(), GitRef: "main"},
			{Type: "oci-layout", Name: "rootfs", Path: "vendor/rootfs", Ref: "v1"},
			{Type: "local", Name: "ctx", Path: "."},
		},
	}
	ctx := context.Background()
	l1, changes, err := Update(ctx, cfg, nil, UpdateOptions{Jobs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 5 {
		t.Fatalf("first lock: want 5 added inputs, got %v", changeLines(changes))
	}
	e := l1.Entries
	if e["source.image.multi"].Digest != idxDigest || !cmp.Equal(e["source.image.multi"].Platforms, plat) {
		t.Errorf("multi-platform image: %+v, want %s %v", e["source.image.multi"], idxDigest, plat)
	}
	if e["source.image.single"].Digest != oneDigest || e["source.image.single"].Platforms["linux/amd64"] != oneDigest {
		t.Errorf("single image: %+v", e["source.image.single"])
	}
	if e["source.git.src"].Commit != commit1 || e["source.git.src"].CommitTime != 1700000002 {
		t.Errorf("git: %+v, want commit %s", e["source.git.src"], commit1)
	}
	if tree := run(t, repo.dir, nil, "git", "rev-parse", commit1+"^{tree}"); e["source.git.src"].Tree != tree {
		t.Errorf("git tree %s, want %s", e["source.git.src"].Tree, tree)
	}
	if e["source.http.tool"].Size != 7 || e["source.http.tool"].SHA256 != sum("tool v1") {
		t.Errorf("http: %+v", e["source.http.tool"])
	}
	if e["source.oci-layout.rootfs"].Digest != layoutDigest {
		t.Errorf("oci-layout: %+v, want %s", e["source.oci-layout.rootfs"], layoutDigest)
	}
	if _, ok := e["source.local.ctx"]; ok {
		t.Error("local sources must not be locked")
	}
	if p, ok := l1.Pin(cfg.Sources[0], "linux/arm64/v8"); !ok || p != plat["linux/arm64/v8"] {
		t.Errorf("Pin(multi, arm64) = %s, %v", p, ok)
	}

	// Determinism: every parallelism gives the same bytes.
	for _, jobs := range []int{1, 8} {
		l, _, err := Update(ctx, cfg, nil, UpdateOptions{Jobs: jobs})
		if err != nil {
			t.Fatal(err)
		}
		if string(l.Bytes()) != string(l1.Bytes()) {
			t.Fatalf("Jobs=%d gives different bytes", jobs)
		}
	}

	// Move everything upstream. A plain update bumps nothing.
	idxDigest2, plat2 := pushIndex(t, idxRef)
	fs.set("/tool.tar", "tool v2!")
	commit2 := repo.commit("third")
	l2, changes, err := Update(ctx, cfg, l1, UpdateOptions{})
	if err != nil || len(changes) != 0 || string(l2.Bytes()) != string(l1.Bytes()) {
		t.Fatalf("kiln lock bumped a matching entry: %v %v", err, changeLines(changes))
	}

	// --update of one input changes exactly that input's block.
	step := func(addr, header string, want string) *lockfile.Lock {
		t.Helper()
		before := l2.Bytes()
		l3, changes, err := Update(ctx, cfg, l2, UpdateOptions{Only: []string{addr}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{want}, changeLines(changes)); diff != "" {
			t.Errorf("%s: change lines (-want +got)\n%s", addr, diff)
		}
		onlyBlockChanged(t, before, l3.Bytes(), header)
		l2 = l3
		return l3
	}
	short := func(d string) string { return d[:len("sha256:")+12] + "…" }
	step("source.image.multi", `source "image" "multi" {`, "• source.image.multi: v1@"+short(idxDigest)+" -> v1@"+short(idxDigest2))
	if !cmp.Equal(l2.Entries["source.image.multi"].Platforms, plat2) {
		t.Errorf("moved tag: platforms %v, want %v", l2.Entries["source.image.multi"].Platforms, plat2)
	}
	old := l2.Entries["source.http.tool"].SHA256
	l := step("source.http.tool", `source "http" "tool" {`, "• source.http.tool: sha256:"+old[:12]+"… -> sha256:"+sum("tool v2!")[:12]+"…")
	if l.Entries["source.http.tool"].Size != 8 {
		t.Errorf("http size %d, want 8", l.Entries["source.http.tool"].Size)
	}
	step("source.git.src", `source "git" "src" {`, "• source.git.src: main@"+commit1[:12]+"… -> main@"+commit2[:12]+"…")

	// Changing the request in build.hcl is picked up by a plain update and
	// touches only that block.
	cfg.Sources[3].GitRef = "v-none"
	repo.commit("fourth")
	run(t, repo.dir, nil, "git", "tag", "-a", "-m", "tag", "v-none", commit1)
	before := l2.Bytes()
	l4, changes, err := Update(ctx, cfg, l2, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"• source.git.src: main@" + commit2[:12] + "… -> v-none@" + commit1[:12] + "…"}, changeLines(changes)); diff != "" {
		t.Errorf("annotated tag (-want +got)\n%s", diff)
	}
	onlyBlockChanged(t, before, l4.Bytes(), `source "git" "src" {`)

	// Removing a source from build.hcl removes its entry.
	cfg.Sources = cfg.Sources[1:]
	l5, changes, err := Update(ctx, cfg, l4, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Kind != lockfile.Removed || changes[0].Address != "source.image.multi" || l5.Entries["source.image.multi"] != nil {
		t.Errorf("removal: %v", changeLines(changes))
	}
}

func TestUpdateErrors(t *testing.T) {
	reg := testutil.StartRegistry(t)
	srv, fs := startHTTP(t)
	fs.set("/ok", "ok")
	repo := newGitRepo(t)
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := l.Addr().String()
		l.Close()
		return a
	}()
	pushImage(t, reg.Addr+"/present:1")
	tests := []struct {
		name string
		src  *lang.Source
		want []string
	}{
		{"missing tag", &lang.Source{Type: "image", Name: "base", Ref: reg.Addr + "/present:nope"}, []string{"present:nope", "MANIFEST_UNKNOWN"}},
		{"missing repo", &lang.Source{Type: "image", Name: "base", Ref: reg.Addr + "/absent:1"}, []string{"absent:1"}},
		{"unreachable registry", &lang.Source{Type: "image", Name: "base", Ref: closed + "/x:1"}, []string{closed, "connection refused"}},
		{"wrong platform", &lang.Source{Type: "image", Name: "base", Ref: reg.Addr + "/present:1", Platforms: []string{"linux/s390x"}}, []string{"single-platform image for linux/amd64", "linux/s390x"}},
		{"http 404", &lang.Source{Type: "http", Name: "x", URL: srv.URL + "/missing"}, []string{"/missing", "404 Not Found"}},
		{"git ref", &lang.Source{Type: "git", Name: "x", URL: repo.url(), GitRef: "no-such-branch"}, []string{`git ref "no-such-branch" not found`}},
		{"git remote", &lang.Source{Type: "git", Name: "x", URL: "file:///nonexistent/repo", GitRef: "main"}, []string{"listing refs of file:///nonexistent/repo"}},
		{"oci-layout path", &lang.Source{Type: "oci-layout", Name: "x", Path: "nowhere"}, []string{"oci layout nowhere"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.src.DeclRange.Filename = "build.hcl"
			tt.src.DeclRange.Start.Line, tt.src.DeclRange.Start.Column = 7, 1
			cfg := &lang.Config{Dir: t.TempDir(), Sources: []*lang.Source{
				{Type: "http", Name: "fine", URL: srv.URL + "/ok"},
				tt.src,
			}}
			old := lockfile.New()
			l, changes, err := Update(context.Background(), cfg, old, UpdateOptions{})
			if err == nil {
				t.Fatalf("no error; lock:\n%s", l.Bytes())
			}
			if l != nil || changes != nil {
				t.Error("a failed update must return no lock, so nothing can be written")
			}
			addr := tt.src.Address()
			for _, w := range append(tt.want, addr+" (build.hcl:7:1)", "kiln lock --update "+addr) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "source.http.fine") {
				t.Errorf("error blames a good input:\n%v", err)
			}
		})
	}
	t.Run("unknown address", func(t *testing.T) {
		cfg := &lang.Config{Sources: []*lang.Source{{Type: "http", Name: "fine", URL: srv.URL + "/ok"}}}
		_, _, err := Update(context.Background(), cfg, nil, UpdateOptions{Only: []string{"source.http.typo"}})
		if err == nil || !strings.Contains(err.Error(), "source.http.typo is not a lockable input") || !strings.Contains(err.Error(), "source.http.fine") {
			t.Fatalf("error: %v", err)
		}
	})
}

func TestFixedOutput(t *testing.T) {
	stage := &lang.Stage{Name: "deps", Steps: []*lang.Step{
		{Kind: "run", Args: []string{"make"}},
		{Kind: "run", Args: []string{"fetch"}, Network: "host", FixedOutput: true},
	}}
	cfg := &lang.Config{Stages: []*lang.Stage{stage}}
	l, changes, err := Update(context.Background(), cfg, nil, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != 0 || len(changes) != 1 || changes[0].Kind != lockfile.Missing || changes[0].Address != "stage.deps.run[1]" {
		t.Fatalf("without a builder: %v", changeLines(changes))
	}
	builds := 0
	build := func(ctx context.Context, addr string, _ *lockfile.Lock) (string, error) {
		builds++
		if addr != "stage.deps.run[1]" {
			t.Errorf("built %s", addr)
		}
		return fmt.Sprintf("sha256:%064x", builds), nil
	}
	l, changes, err = Update(context.Background(), cfg, l, UpdateOptions{BuildFixedOutput: build})
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := l.FixedOutput("stage.deps.run[1]"); !ok || h != fmt.Sprintf("sha256:%064x", 1) {
		t.Fatalf("FixedOutput = %s, %v (%v)", h, ok, changeLines(changes))
	}
	if _, _, err = Update(context.Background(), cfg, l, UpdateOptions{BuildFixedOutput: build}); err != nil || builds != 1 {
		t.Fatalf("a locked fixed-output step was rebuilt (%d builds, %v)", builds, err)
	}
	stage.Steps[1].Args = []string{"fetch", "--more"}
	if _, ok := l.FixedOutputFor(stage, stage.Steps[1], "stage.deps.run[1]"); ok {
		t.Fatal("a changed step still has its old output hash")
	}
	if _, _, err = Update(context.Background(), cfg, l, UpdateOptions{BuildFixedOutput: build}); err != nil || builds != 2 {
		t.Fatalf("a changed step was not rebuilt (%d builds, %v)", builds, err)
	}
}

// TestFixedOutputAfterSources: fixed-output steps build on sources (a
// deb toolchain, a downloaded file), so kiln lock builds them only once
// every source is resolved, with those pins, and one at a time (they
// share a store and may build on each other).
func TestFixedOutputAfterSources(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tool")
	}))
	defer srv.Close()
	fetch := func(name string) *lang.Stage {
		return &lang.Stage{Name: name, Steps: []*lang.Step{{Kind: "run", Args: []string{"fetch"}, Network: "host", FixedOutput: true}}}
	}
	cfg := &lang.Config{
		Sources: []*lang.Source{{Type: "http", Name: "tool", URL: srv.URL + "/tool"}},
		Stages:  []*lang.Stage{fetch("a"), fetch("b")},
	}
	var running, most, builds int
	var mu sync.Mutex
	build := func(ctx context.Context, addr string, pins *lockfile.Lock) (string, error) {
		mu.Lock()
		running++
		most = max(most, running)
		builds++
		n := builds
		mu.Unlock()
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		if pins == nil || pins.Entries["source.http.tool"] == nil {
			t.Errorf("%s was built without the pin of source.http.tool", addr)
		}
		if addr == "stage.b.run[0]" && pins.Entries["stage.a.run[0]"] == nil {
			t.Errorf("stage.b.run[0] was built without the pin learnt for stage.a.run[0] in the same run")
		}
		return fmt.Sprintf("sha256:%064x", n), nil
	}
	l, _, err := Update(context.Background(), cfg, nil, UpdateOptions{BuildFixedOutput: build, Jobs: 8})
	if err != nil {
		t.Fatal(err)
	}
	if most != 1 || builds != 2 {
		t.Errorf("%d builds, at most %d at once; want 2, one at a time", builds, most)
	}
	if _, ok := l.FixedOutput("stage.b.run[0]"); !ok || l.Entries["source.http.tool"] == nil {
		t.Errorf("lock misses entries: %v", l.Entries)
	}
}

// TestFixedOutputBadHash: a builder answer the lock parser would refuse
// (uppercase or non-hex digits) fails the update instead of being written.
func TestFixedOutputBadHash(t *testing.T) {
	stage := &lang.Stage{Name: "deps", Steps: []*lang.Step{{Kind: "run", Args: []string{"fetch"}, Network: "host", FixedOutput: true}}}
	cfg := &lang.Config{Stages: []*lang.Stage{stage}}
	for _, h := range []string{"sha256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("z", 64), "sha512:" + strings.Repeat("a", 64)} {
		build := func(context.Context, string, *lockfile.Lock) (string, error) { return h, nil }
		if l, _, err := Update(context.Background(), cfg, nil, UpdateOptions{BuildFixedOutput: build}); err == nil || !strings.Contains(err.Error(), "not a sha256 digest") {
			t.Errorf("%s: got lock %v, error %v", h, l, err)
		}
	}
}

// TestUpdatePlatformSpellings resolves a multi-platform image with the
// rules realize selects by (internal/platform), and the lock answers the
// compiler for any spelling of a locked platform: a source that locks
// linux/arm64/v8 pins a stage that says linux/arm64.
func TestUpdatePlatformSpellings(t *testing.T) {
	reg := testutil.StartRegistry(t)
	digests := map[string]string{}
	var adds []mutate.IndexAddendum
	for _, p := range []v1.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm", Variant: "v6"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
		{OS: "linux", Architecture: "arm64"},
		{OS: "unknown", Architecture: "unknown"},
	} {
		img := randomImage(t, p.OS, p.Architecture)
		d, _ := img.Digest()
		pl := p
		digests[p.Architecture+"/"+p.Variant] = d.String()
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	idxRef := reg.Addr + "/spellings:1"
	if err := remote.WriteIndex(ref(t, idxRef), mutate.AppendManifests(empty.Index, adds...)); err != nil {
		t.Fatal(err)
	}
	oneRef := reg.Addr + "/arm64only:1"
	one := randomImage(t, "linux", "arm64")
	if err := remote.Write(ref(t, oneRef), one); err != nil {
		t.Fatal(err)
	}
	oneDigest, _ := one.Digest()

	multi := &lang.Source{Type: "image", Name: "multi", Ref: idxRef, Platforms: []string{"linux/arm64/v8", "linux/arm", "linux/x86_64"}}
	every := &lang.Source{Type: "image", Name: "every", Ref: idxRef}
	single := &lang.Source{Type: "image", Name: "single", Ref: oneRef, Platforms: []string{"linux/aarch64"}}
	cfg := &lang.Config{Dir: t.TempDir(), Sources: []*lang.Source{multi, every, single}}
	l, _, err := Update(context.Background(), cfg, nil, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"linux/arm64/v8": digests["arm64/"], "linux/arm": digests["arm/v7"], "linux/x86_64": digests["amd64/"]}
	if got := l.Entries["source.image.multi"].Platforms; !cmp.Equal(got, want) {
		t.Errorf("locked platforms (-got +want):\n%s", cmp.Diff(got, want))
	}
	wantEvery := map[string]string{"linux/amd64": digests["amd64/"], "linux/arm/v6": digests["arm/v6"], "linux/arm/v7": digests["arm/v7"], "linux/arm64": digests["arm64/"]}
	if got := l.Entries["source.image.every"].Platforms; !cmp.Equal(got, wantEvery) {
		t.Errorf("every platform, attestations left out (-got +want):\n%s", cmp.Diff(got, wantEvery))
	}
	if got := l.Entries["source.image.single"].Platforms; !cmp.Equal(got, map[string]string{"linux/aarch64": oneDigest.String()}) {
		t.Errorf("single-platform arm64 image for linux/aarch64: %v", got)
	}
	if _, diags := lockfile.Parse(l.Bytes(), "build.lock.hcl"); diags.HasErrors() {
		t.Fatalf("the lock does not read back: %v", diags)
	}

	for _, tc := range []struct{ platform, pin string }{
		{"linux/arm64/v8", digests["arm64/"]},
		{"linux/arm64", digests["arm64/"]},
		{"linux/amd64", digests["amd64/"]},
		{"linux/arm/v7", digests["arm/v7"]},
		{"linux/arm/v6", ""},
		{"linux/s390x", ""},
	} {
		pin, ok := l.Pin(multi, tc.platform)
		if ok != (tc.pin != "") || pin != tc.pin {
			t.Errorf("Pin(multi, %s) = %q, %v; want %q", tc.platform, pin, ok, tc.pin)
		}
	}

	single.Platforms = []string{"linux/arm/v6"}
	if _, _, err := Update(context.Background(), cfg, nil, UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "single-platform image for linux/arm64, build.hcl asks for linux/arm/v6") {
		t.Errorf("arm64 image for linux/arm/v6: %v", err)
	}
}
