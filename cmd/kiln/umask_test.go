package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// umaskHCL uses every source kind that runs offline and every step kind the
// language has, each where kiln creates directories or files itself:
// missing workdirs and parents, mount points below missing directories,
// a deb root without /etc, layer parents a tar leaves implicit. (merge and
// diff derivations only list layers and have no block in the language.)
const umaskHCL = `
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

source "local" "src" {
  path = "src"
}

source "http" "tool" {
  url      = "%[1]s/tool.bin"
  filename = "tool.bin"
  mode     = "0755"
}

source "git" "repo" {
  url = "file://%[2]s"
  ref = "main"
}

source "oci-layout" "app" {
  path = "layout"
  ref  = "v1"
}

source "image" "pushed" {
  ref = "%[3]s/umask/app:1"
}

source "deb" "tool" {
  packages     = ["kiln-umask-tool"]
  suite        = "stable"
  architecture = "amd64"
  repository   = "%[1]s/debian"
  trusted      = true
}

stage "local" {
  from = source.local.src
}

stage "http" {
  from = source.http.tool
}

stage "git" {
  from = source.git.repo
}

stage "oci" {
  from = source.oci-layout.app
}

stage "image" {
  from = source.image.pushed
}

stage "deb" {
  from = source.deb.tool
}

stage "steps" {
  from    = source.local.busybox
  workdir = "/work/deep/missing"
  run {
    shell = "echo hi > out.txt; echo mounted > /mnt/deep/file"
    mount "tmpfs" {
      target = "/mnt/deep/tmp"
    }
    mount "input" {
      target    = "/in/put"
      from      = stage.git
      readwrite = true
    }
    mount "cache" {
      target = "/var/cache/deep/c"
    }
  }
  copy {
    from = source.local.src
    src  = ["."]
    dest = "/new/parent/local/"
  }
  copy {
    from = source.http.tool
    src  = ["tool.bin"]
    dest = "/new/parent/http/"
  }
  copy {
    from = source.git.repo
    src  = ["."]
    dest = "/new/parent/git/"
  }
  copy {
    from = source.oci-layout.app
    src  = ["/opt"]
    dest = "/new/parent/oci/"
  }
  copy {
    from = source.deb.tool
    src  = ["/etc", "/usr"]
    dest = "/new/parent/deb/"
  }
  mkdir {
    path    = "/made/a/b"
    parents = true
  }
  file {
    path    = "/filed/x/y.txt"
    content = "y\n"
  }
  symlink {
    path   = "/linked/a/l"
    target = "../../made"
  }
  remove {
    path = "/work/deep/missing/out.txt"
  }
  run {
    workdir = "/second/missing"
    shell   = "stat -c '%%a %%u %%n' / /work /work/deep/missing /new/parent /mnt/deep > /listing"
  }
}
`

// umaskFixture is a build folder using every offline source kind, with its
// servers (http, a Debian repository, a registry) on loopback.
func umaskFixture(t *testing.T) *proj {
	t.Helper()
	needTools(t, "git", "dpkg-deb", "skopeo", "docker-registry")
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/tool.bin", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("#!/bin/sh\necho tool\n")) })

	repo := filepath.Join(t.TempDir(), "repo")
	git := func(args ...string) {
		t.Helper()
		c := exec.Command("git", append([]string{"-C", repo}, args...)...)
		c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
			"GIT_AUTHOR_DATE=2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2020-01-01T00:00:00Z")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	writeFiles(t, repo, map[string]string{"README": "repo\n", "deep/er/file.txt": "git file\n"})
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "one")

	reg := testutil.StartRegistry(t)
	p := newProj(t, fmt.Sprintf(umaskHCL, srv.URL, repo, reg.Addr), "")
	writeFiles(t, filepath.Join(p.dir, "src"), map[string]string{"a.txt": "a\n", "sub/dir/b.txt": "b\n"})
	// Parents left implicit: the unpacker makes them.
	writeLayout(t, filepath.Join(p.dir, "layout"), []tarEntry{
		{name: "opt/implicit/parents/file", typ: tar.TypeReg, body: "oci\n"},
	})
	tool(t, "skopeo", "copy", "--dest-tls-verify=false", "oci:"+filepath.Join(p.dir, "layout")+":v1", "docker://"+reg.Addr+"/umask/app:1")
	serveDebRepo(t, mux)
	return p
}

// writeFiles writes files below dir with fixed modes (0755 directories,
// 0644 files), whatever the test's umask.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		for d := filepath.Dir(p); ; d = filepath.Dir(d) {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if d == dir || !strings.HasPrefix(d, dir) {
				break
			}
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// serveDebRepo serves a one-package Debian repository below /debian: a
// package that ships no /etc, so kiln makes /etc for passwd and group.
func serveDebRepo(t *testing.T, mux *http.ServeMux) {
	t.Helper()
	pkg := filepath.Join(t.TempDir(), "pkg")
	writeFiles(t, pkg, map[string]string{
		"DEBIAN/control":       "Package: kiln-umask-tool\nVersion: 1.0\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n",
		"usr/share/tool/a.txt": "deb file\n",
	})
	deb := filepath.Join(t.TempDir(), "tool.deb")
	tool(t, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", pkg, deb)
	debBytes := mustRead(t, deb)
	sum := sha256.Sum256(debBytes)
	packages := fmt.Sprintf("Package: kiln-umask-tool\nVersion: 1.0\nArchitecture: amd64\nPriority: optional\nFilename: pool/main/k/kiln-umask-tool_1.0_amd64.deb\nSize: %d\nSHA256: %s\n\n",
		len(debBytes), hex.EncodeToString(sum[:]))
	psum := sha256.Sum256([]byte(packages))
	release := fmt.Sprintf("Suite: stable\nCodename: stable\nArchitectures: amd64\nComponents: main\nSHA256:\n %s %d main/binary-amd64/Packages\n",
		hex.EncodeToString(psum[:]), len(packages))
	files := map[string][]byte{
		"/debian/dists/stable/Release":                      []byte(release),
		"/debian/dists/stable/main/binary-amd64/Packages":   []byte(packages),
		"/debian/pool/main/k/kiln-umask-tool_1.0_amd64.deb": debBytes,
	}
	mux.HandleFunc("/debian/", func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
}

// umaskRun runs kiln under umask mask, in a shell that sets it and execs
// kiln, as a user's login shell would.
func (p *proj) umaskRun(mask string, args ...string) (string, string) {
	p.t.Helper()
	p.shell = `umask ` + mask + `; exec kiln "$@"`
	defer func() { p.shell = "" }()
	c := p.cmd(args...)
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	if err := c.Run(); err != nil {
		p.t.Fatalf("umask %s; kiln %s: %v\nstdout:\n%s\nstderr:\n%s", mask, strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String(), e.String()
}

// TestOutputsDoNotDependOnUmask: the same build folder locked and built
// under umask 022, 000 and 077, each time with a fresh store, gives the
// same lock file, the same outputs for every source and step kind, and the
// same files in a local export.
func TestOutputsDoNotDependOnUmask(t *testing.T) {
	p := umaskFixture(t)
	stages := []string{"stage.local", "stage.http", "stage.git", "stage.oci", "stage.image", "stage.deb", "stage.steps"}
	type result struct {
		lock    string
		outputs []string
		files   map[string]string
	}
	var want result
	for _, mask := range []string{"022", "000", "077"} {
		p.store = filepath.Join(t.TempDir(), "store-"+mask)
		os.Remove(filepath.Join(p.dir, "build.lock.hcl"))
		p.umaskRun(mask, "lock")
		got := result{lock: string(mustRead(t, filepath.Join(p.dir, "build.lock.hcl")))}
		out, _ := p.umaskRun(mask, append([]string{"build", "--progress", "quiet"}, stages...)...)
		got.outputs = outputIDs(t, out)
		if len(got.outputs) != len(stages) {
			t.Fatalf("umask %s: %d outputs for %d stages:\n%s", mask, len(got.outputs), len(stages), out)
		}
		dest := filepath.Join(t.TempDir(), "out")
		p.umaskRun(mask, "build", "--progress", "quiet", "stage.steps", "-o", "type=local,dest="+dest)
		got.files = listing(t, dest)
		if mask == "022" {
			want = got
			continue
		}
		if got.lock != want.lock {
			t.Errorf("umask %s: build.lock.hcl differs from umask 022's:\n%s\nwant:\n%s", mask, got.lock, want.lock)
		}
		for i, s := range stages {
			if got.outputs[i] != want.outputs[i] {
				t.Errorf("umask %s: %s is %s, under umask 022 %s", mask, s, got.outputs[i], want.outputs[i])
			}
		}
		if d := diffListing(want.files, got.files); d != "" {
			t.Errorf("umask %s: the local export of stage.steps differs from umask 022's:\n%s", mask, d)
		}
	}
}
