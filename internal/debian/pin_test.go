package debian

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// TestCompareVersionsDpkg: cases from dpkg's own test suite
// (lib/dpkg/t/t-version.c) and Debian Policy §5.6.12: epochs beat
// everything, '~' sorts before the end of the string, the revision is
// compared only when the upstream parts are equal, and letters sort before
// non-letters.
func TestCompareVersionsDpkg(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"0:1.0", "1.0", 0},
		{"1:1.0", "2.0", 1},
		{"2:0.1", "1:9.9", 1},
		{"1.0-1", "1.0-1", 0},
		{"1.0", "1.0-0", 0},
		{"1.0-2", "1.0-10", -1},
		{"1.0-1", "1.0-1.1", -1},
		{"1.2-3", "1.10-1", -1},
		{"1.0~beta1", "1.0", -1},
		{"1.0~beta1", "1.0~beta2", -1},
		{"1.0~~", "1.0~", -1},
		{"1.0~", "1.0", -1},
		{"1.0", "1.0+b1", -1},
		{"1.0a", "1.0+", -1}, // letters before other symbols
		{"1.0.", "1.0+", 1},  // "+" (43) sorts before "." (46)
		{"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
		{"2.36-9+deb12u4", "2.36-9", 1},
		{"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
		{"1.2.3-4-5", "1.2.3-4-6", -1}, // the revision is after the last hyphen
		{"001", "1", 0},
		{"1:1.0~rc1-0+b2", "1:1.0-0", -1},
	} {
		got := CompareVersions(tc.a, tc.b)
		back := CompareVersions(tc.b, tc.a)
		if sign(got) != tc.want || sign(back) != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d (reverse %d), want sign %d", tc.a, tc.b, got, back, tc.want)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func stanza(name, version string) string {
	return fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nFilename: pool/%s_%s.deb\nSize: 1\nSHA256: %064x\n\n", name, version, name, version, len(name)+len(version))
}

func index(t *testing.T, stanzas ...string) *Index {
	t.Helper()
	ix := NewIndex("amd64")
	if err := ix.Read(strings.NewReader(strings.Join(stanzas, ""))); err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestPinPriorities: the candidate is the version with the highest apt
// priority, then the highest version, as apt's policy chooses it on an
// empty system; a negative priority is never installed.
func TestPinPriorities(t *testing.T) {
	main := index(t, stanza("libc6", "2.36-9+deb12u4"), stanza("bash", "5.2.15-2"), stanza("tool", "1.0-1"))
	security := index(t, stanza("libc6", "2.36-9+deb12u10"))
	backports := index(t, stanza("tool", "2.0-1~bpo12+1"), stanza("newtool", "3.0-1~bpo12+1"))
	backports.DefaultPin = 100 // NotAutomatic + ButAutomaticUpgrades

	for _, tc := range []struct {
		name               string
		secPin, bpoPin     int
		libc6, tool, newtl string
	}{
		{"defaults", 0, 0, "2.36-9+deb12u10", "1.0-1", "3.0-1~bpo12+1"},
		{"backports pinned up", 0, 600, "2.36-9+deb12u10", "2.0-1~bpo12+1", "3.0-1~bpo12+1"},
		{"backports at the default", 0, 500, "2.36-9+deb12u10", "2.0-1~bpo12+1", "3.0-1~bpo12+1"},
		{"security pinned down", 100, 0, "2.36-9+deb12u4", "1.0-1", "3.0-1~bpo12+1"},
		{"backports forbidden", 0, -1, "2.36-9+deb12u10", "1.0-1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := NewIndex("amd64")
			ix.Merge(main, 0)
			ix.Merge(security, tc.secPin)
			ix.Merge(backports, tc.bpoPin)
			for n, want := range map[string]string{"libc6": tc.libc6, "tool": tc.tool, "newtool": tc.newtl, "bash": "5.2.15-2"} {
				got := ""
				if c := ix.Candidate(n); c != nil {
					got = c.Version
				}
				if got != want {
					t.Errorf("candidate of %s = %q, want %q", n, got, want)
				}
			}
		})
	}
}

// TestPinSameVersionTwice: a version in two suites has the higher of the
// two priorities.
func TestPinSameVersionTwice(t *testing.T) {
	a := index(t, stanza("p", "1.0"))
	b := index(t, stanza("p", "1.0"), stanza("p", "2.0"))
	ix := NewIndex("amd64")
	ix.Merge(a, 900)
	ix.Merge(b, 100)
	if c := ix.Candidate("p"); c == nil || c.Version != "1.0" {
		t.Fatalf("candidate = %v, want 1.0 (900 beats 100)", c)
	}
}

// TestResolveAcrossSuites: the closure takes each package's candidate from
// whichever suite has it, and a dependency only the main suite has
// resolves.
func TestResolveAcrossSuites(t *testing.T) {
	dep := func(name, version, deps string) string {
		return strings.Replace(stanza(name, version), "\n\n", "\nDepends: "+deps+"\n\n", 1)
	}
	main := index(t, dep("libc6", "2.36-9+deb12u4", "libgcc-s1"), stanza("libgcc-s1", "12.2.0-14"))
	security := index(t, dep("libc6", "2.36-9+deb12u10", "libgcc-s1"))
	// Alone, the security suite cannot resolve libc6: what the issue hit.
	if _, err := security.Resolve([]string{"libc6"}, ResolveOptions{}); err == nil || !strings.Contains(err.Error(), "libgcc-s1") {
		t.Fatalf("security alone: %v, want libgcc-s1 missing", err)
	}
	ix := NewIndex("amd64")
	ix.Merge(main, 0)
	ix.Merge(security, 0)
	pkgs, err := ix.Resolve([]string{"libc6"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+" "+p.Version)
	}
	if want := "libc6 2.36-9+deb12u10, libgcc-s1 12.2.0-14"; strings.Join(got, ", ") != want {
		t.Fatalf("closure %q, want %q", strings.Join(got, ", "), want)
	}
}

func TestParseSuites(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []SuiteSpec
		err  string
	}{
		{in: "bookworm", want: []SuiteSpec{{Name: "bookworm"}}},
		{in: "bookworm bookworm-security=990 bookworm-backports=-1", want: []SuiteSpec{{"bookworm", 0}, {"bookworm-security", 990}, {"bookworm-backports", -1}}},
		{in: "", err: "no suite"},
		{in: "a a", err: "twice"},
		{in: "a=0", err: "non-zero"},
		{in: "a=x", err: "non-zero"},
		{in: "../etc", err: "not a Debian suite"},
		{in: "a=1=2", err: "non-zero"},
	} {
		got, err := ParseSuites(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSuites(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseSuites(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back := FormatSuites(got); back != tc.in {
			t.Errorf("FormatSuites(ParseSuites(%q)) = %q", tc.in, back)
		}
	}
}

// TestReleaseReadIsBounded: a repository streaming an endless InRelease
// (or Release) is cut off at MaxReleaseSize, not read into memory whole.
func TestReleaseReadIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("Suite: x\n", 1<<13))
		for sent := 0; sent < 4*MaxReleaseSize; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	r := &Repo{URI: srv.URL, Suite: "bookworm", Arch: "amd64", Client: srv.Client()}
	_, err := r.Release(context.Background())
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != MaxReleaseSize {
		t.Fatalf("Release of an endless InRelease: %v, want a TooLargeError", err)
	}
}

// TestReleaseDefaultPins: a suite's Release file sets its versions'
// default priority as apt reads it: NotAutomatic 1, with
// ButAutomaticUpgrades 100, else 500. Each suite is checked with the
// repository's own key.
func TestReleaseDefaultPins(t *testing.T) {
	repo := testutil.NewDebRepo(t, "amd64")
	repo.Publish(t, "bookworm", "", nil)
	repo.Publish(t, "experimental", "NotAutomatic: yes\n", nil)
	repo.Publish(t, "bookworm-backports", "NotAutomatic: yes\nButAutomaticUpgrades: yes\n", nil)
	for suite, want := range map[string]int{"bookworm": 500, "experimental": 1, "bookworm-backports": 100} {
		r := &Repo{URI: repo.URL, Suite: suite, Arch: "amd64", Keyrings: []string{repo.Keyring}}
		ix, err := r.Index(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ix.DefaultPin != want {
			t.Errorf("%s: default pin %d, want %d", suite, ix.DefaultPin, want)
		}
	}
}

// TestPackagesReadIsBounded: a Packages.gz that the Release file vouches
// for but that decompresses past the limit fails naming the file, and a
// compressed index longer than the Release file says is cut off there.
func TestPackagesReadIsBounded(t *testing.T) {
	defer func(n int64) { packagesLimit = n }(packagesLimit)
	packagesLimit = 1 << 20
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("Package: x\n"), (2<<20)/11))
	zw.Close()
	body := gz.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
		w.Write(make([]byte, 1<<16)) // more than the Release file promised
	}))
	defer srv.Close()
	r := &Repo{URI: srv.URL, Suite: "bookworm", Arch: "amd64", Client: srv.Client()}
	sum := sha256.Sum256(body)
	_, err := r.packagesText(context.Background(), "main/binary-amd64/Packages.gz", FileSum{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(body))})
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("a Packages.gz sent with trailing bytes: %v, want a TooLargeError", err)
	}
	if !strings.Contains(err.Error(), "longer than the") {
		t.Errorf("the error does not say the file is longer than the Release file says: %v", err)
	}
	exact := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer exact.Close()
	r = &Repo{URI: exact.URL, Suite: "bookworm", Arch: "amd64", Client: exact.Client()}
	_, err = r.packagesText(context.Background(), "main/binary-amd64/Packages.gz", FileSum{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(body))})
	if !errors.As(err, &tl) || tl.Limit != 1<<20 || !strings.Contains(err.Error(), "Packages.gz") {
		t.Fatalf("a Packages.gz decompressing to 2 MiB under a 1 MiB limit: %v, want a TooLargeError naming it", err)
	}
}
