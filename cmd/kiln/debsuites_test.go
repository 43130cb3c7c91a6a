package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

const debSuitesHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "deb" "base" {
  packages     = ["hello"]
  suite        = ["bookworm", "bookworm-updates", "bookworm-security"]
  architecture = "amd64"
  repository = {
    "bookworm"          = "%[1]s"
    "bookworm-updates"  = "%[1]s"
    "bookworm-security" = "%[2]s"
  }
  signed_by = {
    "bookworm"          = "%[3]s"
    "bookworm-updates"  = "%[3]s"
    "bookworm-security" = "%[4]s"
  }
}

stage "s" {
  from = source.deb.base
}
`

// TestDebSuites: a deb source over three suites on two loopback
// repositories, each signed with its own key. The update suite's newer
// hello wins over the main suite's, libgcc-s1 (needed by libc6, only in
// the main suite) resolves, and after the security suite publishes a newer
// libc6, kiln lock keeps the lock while kiln lock --update takes it and
// says "libc6 1.0-1 -> 1.0-2". The build then downloads each package from
// the repository that has it.
func TestDebSuites(t *testing.T) {
	testutil.RequireRoot(t) // unpacking sets owners
	pkg := func(name, version, depends string) testutil.DebPackage {
		data := testutil.Tar(t, testutil.TarEntry{Name: "./usr/share/doc/" + name + "/version", Body: version + "\n"})
		return testutil.DebPackage{Name: name, Version: version, Depends: depends, Deb: testutil.Deb(t, name, version, "amd64", "data.tar", data)}
	}
	mainRepo := testutil.NewDebRepo(t, "amd64")
	mainRepo.Publish(t, "bookworm", "", []testutil.DebPackage{
		pkg("hello", "2.10-3", "libc6 (>= 1.0)"),
		pkg("libc6", "1.0-1", "libgcc-s1"),
		pkg("libgcc-s1", "12.2.0-14", ""),
	})
	mainRepo.Publish(t, "bookworm-updates", "", []testutil.DebPackage{pkg("hello", "2.10-3+deb12u1", "libc6 (>= 1.0)")})
	secRepo := testutil.NewDebRepo(t, "amd64")
	secRepo.Publish(t, "bookworm-security", "", nil)

	p := newProj(t, fmt.Sprintf(debSuitesHCL, mainRepo.URL, secRepo.URL, mainRepo.Keyring, secRepo.Keyring), "")
	p.ok("lock")
	lock := readLock(t, p)
	for _, want := range []string{
		`suite        = "bookworm bookworm-updates bookworm-security"`,
		"package \"hello\" {\n    version      = \"2.10-3+deb12u1\"",
		"package \"libc6\" {\n    version      = \"1.0-1\"",
		"package \"libgcc-s1\" {\n    version      = \"12.2.0-14\"",
	} {
		if !strings.Contains(lock, want) {
			t.Errorf("the lock lacks %q:\n%s", want, lock)
		}
	}
	for _, host := range []string{mainRepo.URL, secRepo.URL, "127.0.0.1"} {
		if strings.Contains(lock, host) {
			t.Errorf("the lock names the repository %s", host)
		}
	}

	secRepo.Publish(t, "bookworm-security", "", []testutil.DebPackage{pkg("libc6", "1.0-2", "libgcc-s1")})
	if out := p.ok("lock"); strings.Contains(out, "libc6") || readLock(t, p) != lock {
		t.Fatalf("kiln lock without --update changed the lock:\n%s", out)
	}
	out := p.ok("lock", "--update")
	if !strings.Contains(out, "• source.deb.base: bookworm bookworm-updates bookworm-security/amd64, 3 packages\n    libc6 1.0-1 -> 1.0-2\n") {
		t.Fatalf("kiln lock --update printed:\n%s\nwant the line libc6 1.0-1 -> 1.0-2", out)
	}
	if strings.Contains(out, "hello") || strings.Contains(out, "libgcc-s1") {
		t.Errorf("kiln lock --update names packages that did not change:\n%s", out)
	}
	newLock := readLock(t, p)
	if !strings.Contains(newLock, "package \"libc6\" {\n    version      = \"1.0-2\"") {
		t.Fatalf("the updated lock does not pin libc6 1.0-2:\n%s", newLock)
	}
	if d := lineDiff(lock, newLock); d != 3 {
		// version, filename and sha256 of libc6's block, nothing else (the
		// two test packages have the same size).
		t.Errorf("the lock changed in %d lines, want the 3 of libc6's block:\n%s", d, newLock)
	}

	// The security suite alone lacks libc6's dependency: the error says
	// to list it with its base suite.
	alone := newProj(t, fmt.Sprintf(`
source "deb" "sec" {
  packages     = ["libc6"]
  suite        = "bookworm-security"
  architecture = "amd64"
  repository   = "%s"
  signed_by    = "%s"
}
stage "s" {
  from = source.deb.sec
}
`, secRepo.URL, secRepo.Keyring), "")
	if _, e, code := alone.run("lock"); code != 1 || !strings.Contains(e, "package libgcc-s1 (needed by libc6) is not in the index") ||
		!strings.Contains(e, `list it with its base suite: suite = ["BASE", "bookworm-security"]`) {
		t.Errorf("kiln lock of bookworm-security alone: exit %d, want 1 and a hint to add the base suite:\n%s", code, e)
	}

	tarOut := filepath.Join(t.TempDir(), "files.tar")
	p.ok("build", "--progress", "plain", "-o", "type=tar,dest="+tarOut, "stage.s")
	files := tarFiles(t, tarOut)
	for name, want := range map[string]string{"hello": "2.10-3+deb12u1\n", "libc6": "1.0-2\n", "libgcc-s1": "12.2.0-14\n"} {
		if got := files["usr/share/doc/"+name+"/version"]; got != want {
			t.Errorf("%s in the image is %q, want %q", name, got, want)
		}
	}

	// A pin is part of the request: the entry goes stale, and kiln lock
	// re-resolves with the security suite below the others (apt's 100).
	hcl := strings.Replace(fmt.Sprintf(debSuitesHCL, mainRepo.URL, secRepo.URL, mainRepo.Keyring, secRepo.Keyring),
		`architecture = "amd64"`, "architecture = \"amd64\"\n  pin = { \"bookworm-security\" = 100 }", 1)
	if err := os.WriteFile(filepath.Join(p.dir, "build.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	o, e, code := p.run("lock", "--check")
	if code != 1 || !strings.Contains(o+e, `locked for suite "bookworm bookworm-updates bookworm-security" architecture amd64 packages hello, build.hcl asks for suite "bookworm bookworm-updates bookworm-security=100"`) {
		t.Errorf("kiln lock --check after adding a pin: exit %d, want 1 and the stale request:\n%s%s", code, o, e)
	}
	p.ok("lock")
	if pinned := readLock(t, p); !strings.Contains(pinned, "package \"libc6\" {\n    version      = \"1.0-1\"") ||
		!strings.Contains(pinned, `suite        = "bookworm bookworm-updates bookworm-security=100"`) {
		t.Errorf("with bookworm-security at 100 the lock should pin libc6 1.0-1:\n%s", pinned)
	}
}

// TestDebSuitesOwnKeyring: each repository is checked with its own
// keyring: the main repository's key does not vouch for the security one.
func TestDebSuitesOwnKeyring(t *testing.T) {
	mainRepo := testutil.NewDebRepo(t, "amd64")
	mainRepo.Publish(t, "bookworm", "", nil)
	mainRepo.Publish(t, "bookworm-updates", "", nil)
	secRepo := testutil.NewDebRepo(t, "amd64")
	secRepo.Publish(t, "bookworm-security", "", nil)
	p := newProj(t, fmt.Sprintf(debSuitesHCL, mainRepo.URL, secRepo.URL, mainRepo.Keyring, mainRepo.Keyring), "")
	_, e, code := p.run("lock")
	if code != 1 || !strings.Contains(e, "checking the signature of suite bookworm-security") {
		t.Fatalf("kiln lock: exit %d, want 1 and a failed signature check of bookworm-security:\n%s", code, e)
	}
}

func readLock(t *testing.T, p *proj) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "build.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lineDiff counts the lines of b that differ from a's at the same place
// (the two have the same number of lines when only values changed).
func lineDiff(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(bl) {
		return -1
	}
	n := 0
	for i := range al {
		if al[i] != bl[i] {
			n++
		}
	}
	return n
}
