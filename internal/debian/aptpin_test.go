package debian

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// aptSuite is one suite of TestPinsMatchApt's made-up archive.
type aptSuite struct {
	name, release string // release: extra Release fields
	packages      string
}

var aptPinSuites = []aptSuite{
	{"bookworm", "", stanzaDeps("hello", "2.10-3", "libc6 (>= 1.0)") + stanzaDeps("libc6", "1.0-1", "libgcc-s1") +
		stanzaDeps("libgcc-s1", "12.2.0-14", "") + stanzaDeps("tool", "1.0-1", "")},
	{"bookworm-updates", "", stanzaDeps("hello", "2.10-3+deb12u1", "libc6 (>= 1.0)")},
	{"bookworm-security", "", stanzaDeps("libc6", "1.0-2", "libgcc-s1")},
	{"bookworm-backports", "NotAutomatic: yes\nButAutomaticUpgrades: yes\n",
		stanzaDeps("tool", "2.0-1~bpo12+1", "") + stanzaDeps("newtool", "3.0-1~bpo12+1", "libc6")},
	{"experimental", "NotAutomatic: yes\n", stanzaDeps("hello", "3.0-1", "libc6 (>= 1.0)") + stanzaDeps("libc6", "1.1-1", "libgcc-s1")},
}

func stanzaDeps(name, version, deps string) string {
	s := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: t <t@localhost>\nFilename: pool/%s_%s.deb\nSize: 1\nSHA256: %064x\nDescription: t\n", name, version, name, version, len(name)*100+len(version))
	if deps != "" {
		s += "Depends: " + deps + "\n"
	}
	return s + "\n"
}

// TestPinsMatchApt: the candidate rule (pin priority, then version, with
// NotAutomatic and ButAutomaticUpgrades defaults) and the closure across
// suites agree with apt-get install --simulate on the same indexes and the
// same preferences, for several pin sets.
func TestPinsMatchApt(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get is not installed")
	}
	for _, tc := range []struct {
		name string
		pins map[string]int
		pkgs []string
	}{
		{"defaults", nil, []string{"hello", "tool", "newtool"}},
		{"backports at 500", map[string]int{"bookworm-backports": 500}, []string{"hello", "tool", "newtool"}},
		{"security below main", map[string]int{"bookworm-security": 100}, []string{"hello"}},
		{"experimental preferred", map[string]int{"experimental": 990}, []string{"hello", "tool"}},
		{"updates forbidden", map[string]int{"bookworm-updates": -1}, []string{"hello", "tool"}},
		{"main low", map[string]int{"bookworm": 50, "bookworm-backports": 60}, []string{"hello", "tool"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ix := NewIndex("amd64")
			for _, s := range aptPinSuites {
				one := NewIndex("amd64")
				if err := one.Read(strings.NewReader(s.packages)); err != nil {
					t.Fatal(err)
				}
				one.DefaultPin = DefaultPin
				if strings.Contains(s.release, "NotAutomatic") {
					one.DefaultPin = 1
					if strings.Contains(s.release, "ButAutomaticUpgrades") {
						one.DefaultPin = 100
					}
				}
				ix.Merge(one, tc.pins[s.name])
			}
			sel, err := ix.Resolve(tc.pkgs, ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			mine := map[string]string{}
			for _, p := range sel {
				mine[p.Name] = p.Version
			}
			apt := aptPinSimulate(t, dir, tc.pins, tc.pkgs)
			t.Logf("apt and kiln: %v", apt)
			if fmt.Sprint(mine) != fmt.Sprint(apt) {
				t.Errorf("kiln chose %v\napt installs %v", mine, apt)
			}
		})
	}
}

// aptPinSimulate writes aptPinSuites as apt's lists (trusted, so no
// signatures) and pins as a preferences file, and returns what apt-get
// install --simulate installs from an empty system.
func aptPinSimulate(t *testing.T, dir string, pins map[string]int, pkgs []string) map[string]string {
	t.Helper()
	lists := filepath.Join(dir, "lists")
	for _, d := range []string{lists + "/partial", dir + "/cache/archives/partial", dir + "/parts", dir + "/prefs"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var sources, prefs strings.Builder
	for _, s := range aptPinSuites {
		prefix := filepath.Join(lists, "repo.invalid_debian_dists_"+s.name+"_")
		pk := prefix + "main_binary-amd64_Packages"
		rel := fmt.Sprintf("Origin: Test\nLabel: Test\nSuite: %s\nCodename: %s\nArchitectures: amd64\nComponents: main\n%sSHA256:\n %064x %d main/binary-amd64/Packages\n",
			s.name, s.name, s.release, 0, len(s.packages))
		if err := os.WriteFile(pk, []byte(s.packages), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(prefix+"Release", []byte(rel), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sources, "deb [trusted=yes arch=amd64] http://repo.invalid/debian %s main\n", s.name)
	}
	names := make([]string, 0, len(pins))
	for n := range pins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&prefs, "Package: *\nPin: release n=%s\nPin-Priority: %d\n\n", n, pins[n])
	}
	srcList := filepath.Join(dir, "sources.list")
	prefFile := filepath.Join(dir, "preferences")
	if err := os.WriteFile(srcList, []byte(sources.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prefFile, []byte(prefs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-s", "-q", "--no-install-recommends",
		"-o", "Dir::State::status=/dev/null",
		"-o", "Dir::State::Lists=" + lists,
		"-o", "Dir::Etc::SourceList=" + srcList,
		"-o", "Dir::Etc::SourceParts=" + dir + "/parts",
		"-o", "Dir::Etc::Preferences=" + prefFile,
		"-o", "Dir::Etc::PreferencesParts=" + dir + "/prefs",
		"-o", "Dir::Cache=" + dir + "/cache",
		"-o", "Debug::NoLocking=1",
		"-o", "APT::Architecture=amd64",
		"-o", "APT::Architectures::=amd64",
		"install"}
	args = append(args, pkgs...)
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
