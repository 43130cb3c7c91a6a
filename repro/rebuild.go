package repro

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Rebuild is what the child kiln of one rebuild is asked to do: build the
// targets of File into the empty store Store, Jobs derivations at once,
// applying to itself what its parent cannot set from outside.
type Rebuild struct {
	File  string // the build file, absolute (inside the copy for the cwd variation)
	Store string // the throw-away store, absolute
	Jobs  int

	// Umask is the octal umask the child sets (ApplyToSelf), "" to keep.
	Umask string
	// Hostname is the hostname the child sets (ApplyToSelf) in the new
	// UTS namespace it was started in, "" to keep.
	Hostname string
	// Shuffle starts independent steps in a random order (the child's
	// realize.Options.Shuffle).
	Shuffle bool
}

// ApplyToSelf sets the umask and hostname of the calling process as r
// asks. A rebuild's child runs it before it builds anything: both are
// process (or namespace) properties a parent cannot set on its child.
func (r Rebuild) ApplyToSelf() error {
	var errs []error
	if r.Umask != "" {
		m, err := strconv.ParseUint(r.Umask, 8, 32)
		if err != nil || m > 0o777 {
			errs = append(errs, fmt.Errorf("umask %q: want an octal mode such as 077", r.Umask))
		} else {
			syscall.Umask(int(m))
		}
	}
	if r.Hostname != "" {
		// Only in the new UTS namespace Verify started the child in.
		if err := syscall.Sethostname([]byte(r.Hostname)); err != nil {
			errs = append(errs, fmt.Errorf("setting the hostname: %w", err))
		}
	}
	return errors.Join(errs...)
}

// plan is how one rebuild runs: the child's request and the conditions
// its parent sets around it.
type plan struct {
	Rebuild
	dir    string   // the rebuild's folder, for its log
	cwd    string   // the child's working directory
	env    []string // the child's environment
	newUTS bool     // start the child in a new UTS namespace
	cpus   bool     // start the child on one CPU
	kernel bool     // start the child with the UNAME26 personality
}

// plan lays out rebuild number n under the variations: its folder, store,
// build file (copied for cwd), environment and process attributes.
func (v *verifier) plan(n int, vary []Variation) (*plan, error) {
	has := func(x Variation) bool { return slices.Contains(vary, x) }
	p := &plan{dir: filepath.Join(v.tmpRoot, fmt.Sprintf("rebuild-%d", n))}
	p.Store = filepath.Join(p.dir, "store")
	if has(Store) {
		p.Store = filepath.Join(p.dir, "elsewhere", "much", "deeper", "kiln-store-"+strconv.Itoa(n))
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, err
	}
	var err error
	if p.File, p.cwd, err = v.workdir(p.dir, has(Cwd)); err != nil {
		return nil, err
	}
	p.Jobs = v.cfg.Jobs
	if has(Jobs) {
		if p.Jobs > 1 {
			p.Jobs = 1
		} else {
			p.Jobs = max(runtime.NumCPU(), 2)
		}
	}
	if has(Umask) {
		p.Umask = "077"
	}
	if has(Hostname) {
		p.Hostname = "kiln-verify-" + strconv.Itoa(n)
		p.newUTS = true
	}
	p.Shuffle = has(Order)
	p.cpus, p.kernel = has(CPUs), has(Kernel)
	p.env = childEnv(v.cfg.Environ, has(TZ), has(Locale))
	return p, nil
}

// childEnv is the environment of a rebuild: the caller's without the store
// and epoch (the command line sets both), with the time zone and locale
// replaced when they are varied.
func childEnv(environ []string, tz, locale bool) []string {
	env := slices.DeleteFunc(slices.Clone(environ), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "KILN_STORE" || k == "SOURCE_DATE_EPOCH" ||
			tz && k == "TZ" || locale && (k == "LANG" || k == "LC_ALL" || strings.HasPrefix(k, "LC_"))
	})
	if tz {
		env = append(env, "TZ=Pacific/Chatham")
	}
	if locale {
		env = append(env, "LANG=tr_TR.UTF-8", "LC_ALL=tr_TR.UTF-8")
	}
	return env
}

// run starts the child of p and waits for it, returning its combined
// output, also written to build.log in the rebuild's folder.
func (v *verifier) run(ctx context.Context, p *plan) ([]byte, error) {
	cmd := exec.CommandContext(ctx, v.cfg.Exe, v.cfg.Command(p.Rebuild)...)
	// Stopped as a user would stop it, so that it stops its steps and
	// leaves nothing mounted in the store about to be removed; killed only
	// if it does not end.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	cmd.Dir = p.cwd
	cmd.Env = p.env
	if p.newUTS {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := startPinned(cmd, p.cpus, p.kernel)
	if err == nil {
		err = cmd.Wait()
	}
	os.WriteFile(filepath.Join(p.dir, "build.log"), out.Bytes(), 0o644)
	return out.Bytes(), err
}

// workdir is the build file and working directory of a rebuild: a copy of
// the build file's folder (without the store, when it lives inside) when
// the working directory is varied, else the original.
func (v *verifier) workdir(dir string, vary bool) (file, cwd string, err error) {
	abs, err := filepath.Abs(v.cfg.BuildFile)
	if err != nil {
		return "", "", err
	}
	if !vary {
		return abs, filepath.Dir(abs), nil
	}
	src := filepath.Dir(abs)
	dst := filepath.Join(dir, "elsewhere", filepath.Base(src)+"-copy")
	if err := copyTree(src, dst, v.skipInCopy(src)); err != nil {
		return "", "", fmt.Errorf("copying %s for the cwd variation: %w", src, err)
	}
	return filepath.Join(dst, filepath.Base(abs)), dst, nil
}

// skipInCopy lists the folders the cwd copy leaves out: the main store and
// verify's own temporary folder when they sit inside the build folder.
func (v *verifier) skipInCopy(src string) map[string]bool {
	skip := map[string]bool{}
	for _, p := range []string{v.cfg.Store.Root(), v.tmpRoot} {
		if abs, err := filepath.Abs(p); err == nil {
			if rel, err := filepath.Rel(src, abs); err == nil && !strings.HasPrefix(rel, "..") {
				skip[abs] = true
			}
		}
	}
	return skip
}

// copyTree copies src to dst keeping modes, symlinks and mtimes, so that
// local sources hash as the originals do.
func copyTree(src, dst string, skip map[string]bool) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if skip[p] {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, fi.Mode().Perm()|fi.Mode()&(os.ModeSticky|os.ModeSetuid|os.ModeSetgid))
		case fi.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, fi.Mode().Perm()); err != nil {
				return err
			}
			if err := os.Chmod(target, fi.Mode().Perm()|fi.Mode()&(os.ModeSticky|os.ModeSetuid|os.ModeSetgid)); err != nil {
				return err
			}
			return os.Chtimes(target, fi.ModTime(), fi.ModTime())
		}
		return nil // sockets, devices: not sources
	})
}

// uname26 is the personality flag that makes uname report a 2.6 release.
const uname26 = 0x0020000

// startPinned starts cmd from a thread given one CPU (cpus) and the
// UNAME26 personality (kernel): a child inherits both from the thread that
// forks it, and so do the steps it runs. The thread stays locked and dies
// with its goroutine, so no other goroutine runs with them.
func startPinned(cmd *exec.Cmd, cpus, kernel bool) error {
	if !cpus && !kernel {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if cpus {
			var set unix.CPUSet
			if err := unix.SchedGetaffinity(0, &set); err != nil {
				errc <- fmt.Errorf("verify: reading the CPU affinity: %w", err)
				return
			}
			one := firstCPU(&set)
			set.Zero()
			set.Set(one)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				errc <- fmt.Errorf("verify: limiting the rebuild to one CPU: %w", err)
				return
			}
		}
		if kernel {
			cur, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
			if errno == 0 {
				_, _, errno = unix.RawSyscall(unix.SYS_PERSONALITY, cur|uname26, 0, 0)
			}
			if errno != 0 {
				errc <- fmt.Errorf("verify: setting the UNAME26 personality: %w", errno)
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

func firstCPU(set *unix.CPUSet) int {
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			return i
		}
	}
	return 0
}

// tail is the last n lines of s, indented as a quote.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}
