package sandbox

/*
#cgo CFLAGS: -Wall
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// What /proc/PID/fd/N reads for the memfd kiln loads kiln-init into
// (containerinit.MemfdName), and the seals it must carry: libcontainer's
// own for its copy of the binary, which leave no way to change it.
#define KILN_INIT_LINK "/memfd:kiln-sandbox-init (deleted)"
#define KILN_INIT_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

// kiln_init_fd returns a descriptor of the kiln-init memfd of the kiln
// process that started this container init, or -1 when there is none to
// trust (see kiln_exec_init).
static int kiln_init_fd(const char *initpipe) {
	char *end;
	long pipefd = strtol(initpipe, &end, 10);
	if (*initpipe == '\0' || *end != '\0' || pipefd < 0 || pipefd > INT_MAX)
		return -1;
	// libcontainer made the init pipe with socketpair(2) in the process
	// that runs the container, so its peer credentials name that process.
	// Being also our parent, it is the kiln that started us, not a
	// process that merely set _LIBCONTAINER_INITPIPE.
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt((int)pipefd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
		return -1;
	pid_t ppid = getppid();
	if (cred.pid != ppid)
		return -1;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)ppid);
	int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -1;
	// Still our parent after the open, so the directory is that process's:
	// had it died first, we would have been re-parented before its pid
	// could be reused; should it die now, the directory stays its own
	// (and empty), whatever process gets the number next.
	if (getppid() != ppid) {
		close(dir);
		return -1;
	}
	DIR *d = fdopendir(dir);
	if (d == NULL) {
		close(dir);
		return -1;
	}
	int fd = -1;
	char link[sizeof KILN_INIT_LINK];
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		ssize_t n = readlinkat(dir, e->d_name, link, sizeof link);
		if (n != sizeof KILN_INIT_LINK - 1 || memcmp(link, KILN_INIT_LINK, n) != 0)
			continue;
		fd = openat(dir, e->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
		// Only a memfd can carry F_SEAL_WRITE (other files report no
		// seals, or only F_SEAL_SEAL, or fail): so this is the memfd,
		// and nobody can write to it any more.
		struct stat st;
		int seals = fcntl(fd, F_GET_SEALS);
		if (seals < 0 || (seals & KILN_INIT_SEALS) != KILN_INIT_SEALS || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			fd = -1;
		}
		break;
	}
	closedir(d);
	return fd;
}

// kiln_exec_init runs in every process of kiln's binary before the Go
// runtime starts, and before nsenter's constructor (which has no priority,
// so runs after every constructor that has one). In a container init that
// kiln started, it replaces the process with kiln-init, from the sealed
// memfd kiln loaded it into, with the same arguments, environment and
// descriptors: nsenter and libcontainer's init then run there, in a binary
// a fifth the size of kiln's. Everywhere else, and whenever anything does
// not check out, it returns and kiln's binary is the init as before.
// docs/security.md says why this is safe.
__attribute__((constructor(101))) static void kiln_exec_init(int argc, char **argv, char **envp) {
	if (argc < 2 || strcmp(argv[1], "init") != 0)
		return;
	const char *initpipe = getenv("_LIBCONTAINER_INITPIPE");
	if (initpipe == NULL)
		return;
	int fd = kiln_init_fd(initpipe);
	if (fd < 0)
		return;
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	close(fd);
}
*/
import "C"

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"sync"

	"github.com/opencontainers/runc/libcontainer/system"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/companion"
	"github.com/kiln-build/kiln/internal/containerinit"
)

// The module paths the version check compares.
const (
	initPackage   = "github.com/kiln-build/kiln/cmd/kiln-init"
	runcModule    = "github.com/opencontainers/runc"
	seccompModule = "github.com/seccomp/libseccomp-golang"
)

// smallInit is kiln-init as this process uses it: found, checked and
// loaded into a sealed memfd once, which stays open (and so findable by
// kiln_exec_init) for the life of the process.
type smallInit struct {
	// path is where kiln-init was found ("" when it was not).
	path string
	// memfd holds it, sealed; nil when it is not used.
	memfd *os.File
	// err says why it is not used, for the build's notice.
	err error
}

var loadInit = sync.OnceValue(func() smallInit {
	self, _ := os.Executable()
	bi, _ := debug.ReadBuildInfo()
	return load(os.Environ(), self, exec.LookPath, bi)
})

// InitBinary says which init the sandboxes of this process start: kiln-init
// at path, or (err != nil, saying why) kiln's own binary.
func InitBinary() (path string, err error) {
	s := loadInit()
	return s.path, s.err
}

// warnInit gives the notice that steps start kiln's whole binary as their
// init, once per build (Prepare).
func warnInit(warn func(string)) {
	if s := loadInit(); s.err != nil && warn != nil {
		warn(s.err.Error())
	}
}

const howInit = "build it from kiln's checkout with `go build -tags seccomp -o DIR/kiln-init ./cmd/kiln-init` (DIR: kiln's directory), or install both with `go install -tags seccomp ./cmd/...`"

func load(environ []string, self string, lookPath func(string) (string, error), kiln *debug.BuildInfo) smallInit {
	path, err := locateInit(environ, self, lookPath)
	if err != nil {
		return smallInit{err: err}
	}
	memfd, err := sealedCopy(path)
	if err != nil {
		return smallInit{path: path, err: fmt.Errorf("%s could not be loaded (%v): steps start kiln's whole binary as their init instead (slower)", path, err)}
	}
	// Checked in the sealed copy, which is what the steps will run.
	bi, err := buildinfo.Read(memfd)
	if err == nil {
		err = checkInitBuild(kiln, bi, SeccompSupported())
	}
	if err != nil {
		memfd.Close()
		return smallInit{path: path, err: fmt.Errorf("%s is not kiln's init for this kiln: %v; steps start kiln's whole binary as their init instead (slower); %s", path, err, howInit)}
	}
	return smallInit{path: path, memfd: memfd}
}

// locateInit finds kiln-init the way bkhelper.Locate finds kiln-buildkit:
// the file $KILN_INIT names, else next to kiln's own executable (how both
// ship), else on PATH.
func locateInit(environ []string, self string, lookPath func(string) (string, error)) (string, error) {
	p, err := companion.Locate(environ, containerinit.Env, containerinit.Name, self, lookPath)
	if err != nil {
		return "", fmt.Errorf("%v: steps start kiln's whole binary as their init instead (slower); %s", err, howInit)
	}
	return p, nil
}

// sealedCopy copies the file at path into a memfd named
// containerinit.MemfdName and seals it as libcontainer seals its copy of
// kiln's binary: no container, nor anything else, can change what later
// steps run as their init.
func sealedCopy(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	memfd, err := system.ExecutableMemfd(containerinit.MemfdName, unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if _, err := system.Copy(memfd, src); err != nil {
		memfd.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(memfd.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		memfd.Close()
		return nil, os.NewSyscallError("fcntl(F_ADD_SEALS)", err)
	}
	return memfd, nil
}

// checkInitBuild says whether init (kiln-init's build information) can be
// the init of kiln's sandboxes: kiln's own program, built from the same
// libcontainer (the parent and the init speak libcontainer's private
// protocol over the init pipe, which changes between its versions), with
// cgo (nsenter is C) and, when kiln filters system calls, with
// libseccomp (the init applies the filter).
//
// kiln is this binary's build information, nil or partial where the go
// command left it so: a test binary has neither its dependencies nor
// version control stamps. A comparison that kiln's side cannot make is
// skipped; the tests build kiln-init from the same checkout, so they lose
// nothing, and a released kiln always has both.
func checkInitBuild(kiln, init *debug.BuildInfo, seccomp bool) error {
	if init.Path != initPackage {
		return fmt.Errorf("it is the program %s, not %s", orUnknown(init.Path), initPackage)
	}
	if setting(init, "CGO_ENABLED") != "1" {
		return errors.New("it was built without cgo, which libcontainer's nsenter needs")
	}
	if seccomp && dep(init, seccompModule) == nil {
		return errors.New("it was built without the seccomp build tag, so it could not filter the steps' system calls")
	}
	if kiln == nil {
		return nil
	}
	if want := dep(kiln, runcModule); want != nil {
		got := dep(init, runcModule)
		if got == nil {
			return fmt.Errorf("it does not link libcontainer (%s)", runcModule)
		}
		if modString(got) != modString(want) {
			return fmt.Errorf("it was built with libcontainer %s, kiln with %s", modString(got), modString(want))
		}
	}
	if kv, iv := kiln.Main.Version, init.Main.Version; stamped(kv) && stamped(iv) && kv != iv {
		return fmt.Errorf("it was built from kiln %s, kiln from %s", iv, kv)
	}
	if kr, ir := revision(kiln), revision(init); kr != "" && ir != "" && kr != ir {
		return fmt.Errorf("it was built from revision %s, kiln from %s", ir, kr)
	}
	return nil
}

func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func dep(bi *debug.BuildInfo, path string) *debug.Module {
	for _, m := range bi.Deps {
		if m.Path == path {
			return m
		}
	}
	return nil
}

// modString is a module's version with its checksum and replacement,
// which two builds of the same libcontainer share.
func modString(m *debug.Module) string {
	s := m.Version
	if m.Sum != "" {
		s += " (" + m.Sum + ")"
	}
	if m.Replace != nil {
		s += " => " + m.Replace.Path + " " + modString(m.Replace)
	}
	return s
}

func stamped(v string) bool { return v != "" && v != "(devel)" }

func revision(bi *debug.BuildInfo) string {
	rev := setting(bi, "vcs.revision")
	if rev != "" && setting(bi, "vcs.modified") == "true" {
		rev += "+modified"
	}
	return rev
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
