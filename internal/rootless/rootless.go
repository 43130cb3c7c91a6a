package rootless

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	// envStage is set to "1" in the child Enter starts: it tells Resume to
	// wait for the mappings and re-execute.
	envStage = "_KILN_USERNS_STAGE"
	// envHostUID carries the user's real uid into the namespace: it marks a
	// rootless kiln (and its kiln children) and names the user in errors.
	envHostUID = "_KILN_ROOTLESS_UID"
)

// IDs is how many ids the namespace maps: 0 is the user, 1..IDs-1 come
// from the user's subordinate range, as podman's default.
const IDs = 65536

// Active reports whether this process is a rootless kiln inside the user
// namespace Enter made.
func Active() bool {
	return os.Getenv(envHostUID) != "" && InUserNS()
}

// HostUID is the real uid of the user a rootless kiln runs for (-1 when
// not Active).
func HostUID() int {
	if !Active() {
		return -1
	}
	n, err := strconv.Atoi(os.Getenv(envHostUID))
	if err != nil {
		return -1
	}
	return n
}

var inUserNS = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
})

// InUserNS reports whether this process runs in a user namespace other
// than the host's, where overlayfs keeps its xattrs under user.overlay.*
// (mounted with userxattr) because trusted.* is out of reach.
func InUserNS() bool { return inUserNS() }

// Needed reports whether a kiln run by this process's user must Enter a
// user namespace to build: it is not root (inside the namespace Enter
// makes, it is).
func Needed() bool {
	return os.Geteuid() != 0
}

// Resume is the child's half of Enter. Call it first thing in main's
// init, after sandbox.Init: in the process Enter started, it waits until
// the mappings are written and re-executes kiln, which then starts as root
// of its namespace; in any other process it returns at once.
func Resume() {
	if os.Getenv(envStage) != "1" {
		return
	}
	os.Unsetenv(envStage)
	sync := os.NewFile(3, "userns-sync")
	var b [1]byte
	n, _ := sync.Read(b[:])
	sync.Close()
	if n != 1 || b[0] != 'm' {
		// The parent failed to map the ids and says why.
		os.Exit(1)
	}
	err := unix.Exec("/proc/self/exe", os.Args, os.Environ())
	fmt.Fprintf(os.Stderr, "kiln: re-executing kiln in its user namespace: %v\n", err)
	os.Exit(1)
}

// Enter runs this kiln again, with args, in a new user and mount namespace
// mapped with the user's subordinate ids, and returns its exit code. It
// fails, before starting anything, with an error that names the fix when
// the machine lacks what that needs.
func Enter(args []string) (int, error) {
	u, err := currentUser()
	if err != nil {
		return 1, err
	}
	newuidmap, newgidmap, err := helpers()
	if err != nil {
		return 1, err
	}
	if err := CheckUserNamespaces(); err != nil {
		return 1, err
	}
	if err := checkDevNull(); err != nil {
		return 1, err
	}
	subuid, err := subRange("/etc/subuid", u)
	if err != nil {
		return 1, err
	}
	subgid, err := subRange("/etc/subgid", u)
	if err != nil {
		return 1, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 1, err
	}
	defer r.Close()
	defer w.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = append([]string{os.Args[0]}, args...)
	cmd.Env = append(os.Environ(), envStage+"=1", envHostUID+"="+strconv.Itoa(u.uid))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		// Per thread: the caller's goroutine stays on this thread until the
		// child is gone (the main thread, when called from main).
		Pdeathsig: unix.SIGKILL,
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return 1, namespaceError(err)
	}
	r.Close()
	pid := strconv.Itoa(cmd.Process.Pid)
	if err := runMap(newuidmap, pid, u.uid, subuid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 1, err
	}
	if err := runMap(newgidmap, pid, u.gid, subgid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 1, err
	}
	// Signals a person or a CI runner sends to kiln go to the kiln doing
	// the work, and never stop this one first. A Ctrl-C from a terminal
	// reaches the child twice (directly, as they share the foreground
	// process group, and forwarded): kiln takes a second interrupt during
	// a build as the first, and a kill -INT of this process alone must
	// still reach the child.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	if _, err := w.Write([]byte{'m'}); err != nil {
		_ = cmd.Process.Kill()
	}
	w.Close()
	err = cmd.Wait()
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 1, fmt.Errorf("waiting for kiln in its user namespace: %w", err)
}

type hostUser struct {
	name     string
	uid, gid int
}

func currentUser() (hostUser, error) {
	h := hostUser{uid: os.Getuid(), gid: os.Getgid()}
	u, err := user.LookupId(strconv.Itoa(h.uid))
	if err != nil {
		return h, fmt.Errorf("kiln runs as a normal user only as a user with a name (uid %d has none in /etc/passwd): %w", h.uid, err)
	}
	h.name = u.Username
	return h, nil
}

// helpers finds newuidmap and newgidmap.
func helpers() (string, string, error) {
	var paths []string
	for _, name := range []string{"newuidmap", "newgidmap"} {
		p, err := exec.LookPath(name)
		if err != nil {
			if _, serr := os.Stat("/usr/bin/" + name); serr == nil {
				p, err = "/usr/bin/"+name, nil
			}
		}
		if err != nil {
			return "", "", fmt.Errorf("kiln builds as a normal user in a user namespace, which needs %s: install the uidmap package (apt-get install uidmap), or run kiln as root", name)
		}
		paths = append(paths, p)
	}
	return paths[0], paths[1], nil
}

// CheckUserNamespaces says, naming the sysctl, when the kernel does not let
// normal users create user namespaces.
func CheckUserNamespaces() error {
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return errors.New("kiln builds as a normal user in a user namespace, but user namespaces are disabled (user.max_user_namespaces = 0); enable them as root: sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d to keep it), or run kiln as root")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return errors.New("kiln builds as a normal user in a user namespace, but this kernel lets only root create them (kernel.unprivileged_userns_clone = 0); enable them as root: sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d to keep it), or run kiln as root")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && strings.TrimSpace(string(b)) == "1" {
		return errors.New("kiln builds as a normal user in a user namespace, but AppArmor keeps normal users from creating them (kernel.apparmor_restrict_unprivileged_userns = 1); allow them as root: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run kiln as root")
	}
	return nil
}

// checkDevNull catches a host /dev/null that a normal user cannot write
// (mode 0644 after something recreated it): in a user namespace the
// sandbox binds the host's device nodes rather than making its own, and
// libcontainer's init fails cryptically on it.
func checkDevNull() error {
	if err := unix.Access("/dev/null", unix.R_OK|unix.W_OK); err != nil {
		mode := ""
		if fi, serr := os.Stat("/dev/null"); serr == nil {
			mode = fmt.Sprintf(" (mode %v)", fi.Mode())
		}
		return fmt.Errorf("kiln builds as a normal user by binding the host's /dev/null into steps, but this user cannot read and write it%s: restore it as root with chmod 666 /dev/null", mode)
	}
	return nil
}

func namespaceError(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("creating a user namespace for a rootless build: %w; check that normal users may create user namespaces (sysctl user.max_user_namespaces above 0, kernel.unprivileged_userns_clone = 1 where it exists), or run kiln as root", err)
	}
	return fmt.Errorf("starting kiln in a user namespace: %w", err)
}

// Range is a subordinate id range from /etc/subuid or /etc/subgid.
type Range struct{ Start, Count int }

// subRange finds u's first range of at least IDs-1 ids in file (lines
// "name-or-uid:start:count").
func subRange(file string, u hostUser) (Range, error) {
	kind, flag := "uid", "--add-subuids"
	if strings.HasSuffix(file, "subgid") {
		kind, flag = "gid", "--add-subgids"
	}
	missing := fmt.Errorf("kiln builds as a normal user in a user namespace with %d ids, but %s has no subordinate %s range of at least %d ids in %s; add one as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s (any range unused by other users will do; %s is the %s half)",
		IDs, u.name, kind, IDs-1, file, u.name, flag, kind)
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return Range{}, missing
	}
	if err != nil {
		return Range{}, err
	}
	defer f.Close()
	rs, err := parseSubIDs(f, u.name, strconv.Itoa(u.uid))
	if err != nil {
		return Range{}, fmt.Errorf("reading %s: %w", file, err)
	}
	for _, r := range rs {
		if r.Count >= IDs-1 {
			return r, nil
		}
	}
	return Range{}, missing
}

func parseSubIDs(f *os.File, name, uid string) ([]Range, error) {
	var out []Range
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 || (parts[0] != name && parts[0] != uid) {
			continue
		}
		start, err1 := strconv.Atoi(parts[1])
		count, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || start < 0 || count < 0 {
			continue
		}
		out = append(out, Range{start, count})
	}
	return out, sc.Err()
}

// runMap maps 0 to id and 1..IDs-1 to sub with helper for process pid.
func runMap(helper, pid string, id int, sub Range) error {
	out, err := exec.Command(helper, pid,
		"0", strconv.Itoa(id), "1",
		"1", strconv.Itoa(sub.Start), strconv.Itoa(IDs-1)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mapping ids for a rootless build with %s (0 -> %d, 1..%d -> %d..): %v: %s", helper, id, IDs-1, sub.Start, err, strings.TrimSpace(string(out)))
	}
	return nil
}
