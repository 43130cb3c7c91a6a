package debian

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The suite the network tests resolve against: the machine's apt
// configuration says where it lives.
const testSuite = "bookworm"

var (
	hostIndexOnce sync.Once
	hostIndex     *Index
	hostRepo      *Repo
	hostIndexErr  error
)

// hostRepoIndex fetches the test suite's index from the mirror the
// machine's apt configuration names, once per test binary, caching the
// Packages file under the user's cache directory.
func hostRepoIndex(t testing.TB) (*Repo, *Index) {
	t.Helper()
	hostIndexOnce.Do(func() {
		srcs, err := ReadAptSources("/")
		if err != nil {
			hostIndexErr = err
			return
		}
		s, err := FindSuite(srcs, testSuite)
		if err != nil {
			hostIndexErr = err
			return
		}
		cache, _ := os.UserCacheDir()
		hostRepo = &Repo{URI: s.URI, Suite: testSuite, Components: []string{"main"}, Arch: "amd64", Keyrings: []string{s.SignedBy}, CacheDir: filepath.Join(cache, "kiln-test", "deb")}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		hostIndex, hostIndexErr = hostRepo.Index(ctx)
	})
	if hostIndexErr != nil {
		t.Skipf("no Debian mirror reachable through the apt configuration: %v", hostIndexErr)
	}
	return hostRepo, hostIndex
}

var instRe = regexp.MustCompile(`(?m)^Inst (\S+) \((\S+) `)

// aptSimulate runs apt-get install --simulate from an empty system on
// exactly the index the resolver read: a private lists directory holding
// the same Packages file, nothing from the machine's own state.
// The directory is shared by the subtests so that apt builds its package
// cache once.
func aptSimulate(t *testing.T, dir string, repo *Repo, pkgs []string, essential bool) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get is not installed")
	}
	lists := filepath.Join(dir, "lists")
	for _, d := range []string{lists + "/partial", dir + "/cache/archives/partial", dir + "/parts", dir + "/prefs"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	prefix := regexp.MustCompile(`^[a-z]+://`).ReplaceAllString(repo.URI, "")
	prefix = strings.ReplaceAll(prefix, "/", "_") + "_dists_" + repo.Suite + "_"
	ctx := context.Background()
	rel, err := repo.get(ctx, "dists/"+repo.Suite+"/InRelease", MaxReleaseSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lists, prefix+"InRelease"), rel, 0o644); err != nil {
		t.Fatal(err)
	}
	sums, err := repo.Release(ctx)
	if err != nil {
		t.Fatal(err)
	}
	text, err := repo.packagesText(ctx, "main/binary-amd64/Packages.xz", sums["main/binary-amd64/Packages.xz"])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(text)
	text.Close()
	if err := os.WriteFile(filepath.Join(lists, prefix+"main_binary-amd64_Packages"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	srcList := filepath.Join(dir, "sources.list")
	if err := os.WriteFile(srcList, []byte("deb [trusted=yes arch=amd64] "+repo.URI+" "+repo.Suite+" main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-s", "-q", "--no-install-recommends",
		"-o", "Dir::State::status=/dev/null",
		"-o", "Dir::State::Lists=" + lists,
		"-o", "Dir::Etc::SourceList=" + srcList,
		"-o", "Dir::Etc::SourceParts=" + dir + "/parts",
		"-o", "Dir::Etc::Preferences=/dev/null",
		"-o", "Dir::Etc::PreferencesParts=" + dir + "/prefs",
		"-o", "Dir::Cache=" + dir + "/cache",
		"-o", "Debug::NoLocking=1",
		"-o", "APT::Architecture=amd64",
		"-o", "APT::Architectures::=amd64",
		"install"}
	args = append(args, pkgs...)
	if essential {
		for _, p := range hostIndex.Essential() {
			args = append(args, p.Name)
		}
	}
	out, err := exec.Command("apt-get", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	got := map[string]string{}
	for _, m := range instRe.FindAllStringSubmatch(string(out), -1) {
		got[strings.TrimSuffix(m[1], ":amd64")] = m[2]
	}
	if len(got) == 0 {
		t.Fatalf("apt-get installed nothing?\n%s", out)
	}
	return got
}

// TestResolveMatchesApt checks the resolver against apt-get install
// --simulate for a handful of package sets on the same index.
func TestResolveMatchesApt(t *testing.T) {
	repo, ix := hostRepoIndex(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		pkgs      []string
		essential bool
	}{
		{pkgs: []string{"hello"}},
		{pkgs: []string{"gcc", "libc6-dev"}},
		{pkgs: []string{"golang-go", "ca-certificates"}},
		{pkgs: []string{"curl", "git"}},
		{pkgs: []string{"python3"}},
		{pkgs: []string{"busybox"}, essential: true},
	} {
		t.Run(strings.Join(tc.pkgs, "+"), func(t *testing.T) {
			start := time.Now()
			sel, err := ix.Resolve(tc.pkgs, ResolveOptions{Essential: tc.essential})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("resolved %d packages in %v", len(sel), time.Since(start))
			mine := map[string]string{}
			for _, p := range sel {
				mine[p.Name] = p.Version
			}
			apt := aptSimulate(t, dir, repo, tc.pkgs, tc.essential)
			var diffs []string
			for n, v := range apt {
				if mine[n] != v {
					diffs = append(diffs, "apt installs "+n+" "+v+", kiln has "+orNone(mine[n]))
				}
			}
			for n, v := range mine {
				if _, ok := apt[n]; !ok {
					diffs = append(diffs, "kiln adds "+n+" "+v+", apt does not")
				}
			}
			sort.Strings(diffs)
			if len(diffs) > 0 {
				t.Errorf("%d differences from apt-get install --simulate:\n%s", len(diffs), strings.Join(diffs, "\n"))
			}
		})
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
