package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize"
	"github.com/kiln-build/kiln/store"
)

func init() {
	subcommands = append(subcommands, newVerifyCmd)
	applyVerifyChild()
}

// verifyChildEnv carries the variations that a rebuild applies to itself
// (umask, hostname, step order): they cannot be set from outside the
// process as an environment variable can.
const verifyChildEnv = "KILN_VERIFY_CHILD"

// verifyShuffle makes runBuild start independent steps in random order; it
// is set only in a kiln verify rebuild.
var verifyShuffle bool

// applyVerifyChild applies the variations of a kiln verify rebuild to this
// process. The variable is removed at once, so that nothing kiln starts
// (sandbox inits, steps) sees it.
func applyVerifyChild() {
	spec, ok := os.LookupEnv(verifyChildEnv)
	if !ok {
		return
	}
	os.Unsetenv(verifyChildEnv)
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "umask":
			if m, err := strconv.ParseUint(v, 8, 32); err == nil {
				syscall.Umask(int(m))
			}
		case "hostname":
			// Only in the new UTS namespace verify started us in.
			if err := syscall.Sethostname([]byte(v)); err != nil {
				fmt.Fprintf(os.Stderr, "kiln verify: setting the hostname: %v\n", err)
			}
		case "shuffle":
			verifyShuffle = v == "1"
		}
	}
}

// variations kiln verify can apply to a rebuild, in the order --vary lists
// them and isolation tries them.
var allVariations = []string{"time", "tz", "umask", "hostname", "locale", "jobs", "store", "cwd", "order", "cpus", "kernel"}

type verifyFlags struct {
	build   buildFlags
	vary    string
	rounds  int
	isolate bool
	keep    bool
}

func newVerifyCmd(g *globals) *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify [TARGET...]",
		Short: "Rebuild the targets from nothing under varied conditions and compare every output",
		Long: `verify builds the targets as kiln build does, then, for each round,
rebuilds every derivation they need from nothing, in a throw-away store, by
running kiln again under changed conditions, and compares each derivation's
output with the first build's. On a mismatch it names the step, shows what
differs inside its output (paths added, removed or changed; size, mode,
mtime and a diff of text files; the differing member of an archive) and,
when several variations were applied, rebuilds with one at a time to say
which one exposes it. Exit 1 on any mismatch.

Variations (--vary, comma-separated, default all):
  time      the rebuild starts at least a second after the previous build
  tz        TZ=Pacific/Chatham instead of the caller's
  umask     umask 077 instead of the caller's
  hostname  another hostname (a new UTS namespace; needs root)
  locale    LANG/LC_ALL=tr_TR.UTF-8
  jobs      -j 1 when the first build ran several steps at once, else -j NumCPU
  store     a store in a deeper, differently named folder (the throw-away
            store is always somewhere else)
  cwd       a copy of the build file's folder elsewhere, run from there
  order     independent steps start in a random order
  cpus      the rebuild and its steps may run on one CPU only (affinity and
            cpuset), so nproc and sched_getaffinity say 1
  kernel    uname reports another kernel release (2.6.x, the UNAME26
            personality)`,
		RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd.Context(), g, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.vary, "vary", strings.Join(allVariations, ","), "variations to apply: "+strings.Join(allVariations, ",")+", or none")
	fl.IntVar(&f.rounds, "rounds", 1, "rebuilds to compare with the first build")
	fl.BoolVar(&f.isolate, "isolate", true, "on a mismatch, rebuild with one variation at a time to find which exposes it")
	fl.BoolVar(&f.keep, "keep", false, "keep the throw-away stores and print where they are")
	fl.IntVarP(&f.build.jobs, "jobs", "j", runtime.NumCPU(), "derivations built at once in the first build")
	fl.BoolVar(&f.build.locked, "locked", os.Getenv("CI") != "", "refuse to build when build.lock.hcl is incomplete or stale (default when CI is set)")
	fl.StringArrayVar(&f.build.secrets, "secret", nil, "a secret for secret mounts: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
	fl.BoolVar(&f.build.allowInsecure, "allow-insecure", false, allowInsecureUsage)
	return cmd
}

func parseVary(s string) ([]string, error) {
	if s == "none" || s == "" {
		return nil, nil
	}
	var out []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "all" {
			return slices.Clone(allVariations), nil
		}
		if !slices.Contains(allVariations, v) {
			return nil, usageErrorf("--vary %q: unknown variation %q (want %s, all or none)", s, v, strings.Join(allVariations, ","))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	// Keep the documented order, so reports read the same however --vary
	// was spelled.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(allVariations, a) - slices.Index(allVariations, b) })
	return out, nil
}

// verifier holds what every rebuild of one kiln verify needs.
type verifier struct {
	g        *globals
	f        verifyFlags
	targets  []string
	res      *buildResult
	closure  []digest.Digest
	first    map[digest.Digest]store.Output
	lastEnd  time.Time
	tmpRoot  string
	rebuilds int
}

// mismatch is one derivation whose rebuilt output differs.
type mismatch struct {
	d          digest.Digest
	old, new   store.Output
	followOnly []string // inputs that differ, when only inherited layers do
}

func runVerify(ctx context.Context, g *globals, f verifyFlags, args []string) error {
	vary, err := parseVary(f.vary)
	if err != nil {
		return err
	}
	if f.rounds < 1 {
		return usageErrorf("--rounds %d: want at least 1", f.rounds)
	}
	// Ctrl-C must reach the deferred removal of the throw-away stores: by
	// default Go would exit at once and leave them behind.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if slices.Contains(vary, "cpus") && oneCPU() {
		fmt.Fprintln(os.Stderr, "kiln verify: kiln may run on one CPU only: the CPU count is not varied")
		vary = slices.DeleteFunc(vary, func(s string) bool { return s == "cpus" })
	}
	if slices.Contains(vary, "hostname") && os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "kiln verify: not root: the hostname is not varied (it needs a new UTS namespace)")
		vary = slices.DeleteFunc(vary, func(s string) bool { return s == "hostname" })
	}
	res, err := runBuild(ctx, g, f.build, args)
	if err != nil {
		return err
	}
	defer res.st.Close()
	v := &verifier{g: g, f: f, targets: args, res: res, lastEnd: time.Now()}
	v.closure = res.graph.Closure(compiler.TargetRoots(res.graph.Targets)...)
	if v.first, err = res.st.LookupMany(v.closure); err != nil {
		return err
	}
	if v.tmpRoot, err = os.MkdirTemp("", "kiln-verify-"); err != nil {
		return err
	}
	if f.keep {
		fmt.Fprintf(os.Stderr, "kiln verify: keeping the rebuilds' stores under %s\n", v.tmpRoot)
	} else {
		defer os.RemoveAll(v.tmpRoot)
	}

	failed := false
	for round := 1; round <= f.rounds; round++ {
		label := strings.Join(vary, ", ")
		if label == "" {
			label = "no variation"
		}
		fmt.Printf("round %d (%s): rebuilding %d derivations\n", round, label, len(v.closure))
		mm, other, err := v.rebuild(ctx, vary)
		if err != nil {
			return err
		}
		if len(mm) == 0 {
			fmt.Printf("round %d: all %d derivations identical\n", round, len(v.closure))
			continue
		}
		failed = true
		exposed := map[digest.Digest]string{}
		if f.isolate && len(vary) > 0 {
			exposed, err = v.isolate(ctx, vary, mm)
			if err != nil {
				return err
			}
		}
		v.report(round, mm, other, exposed)
		break // one round with the full report is enough to act on
	}
	if failed {
		return &exitError{code: 1, err: errors.New("verify: outputs differ between builds of the same inputs: the steps named above are not reproducible")}
	}
	fmt.Printf("verified: %d derivations rebuilt identically in %d round(s)\n", len(v.closure), f.rounds)
	return nil
}

// rebuild realizes the targets once more from nothing under the variations
// and returns the derivations whose outputs differ from the first build,
// with the rebuild's store opened for the caller to diff (closed with it).
func (v *verifier) rebuild(ctx context.Context, vary []string) ([]mismatch, *store.Store, error) {
	has := func(s string) bool { return slices.Contains(vary, s) }
	if has("time") {
		if wait := time.Until(v.lastEnd.Add(1100 * time.Millisecond)); wait > 0 {
			time.Sleep(wait)
		}
	}
	v.rebuilds++
	dir := filepath.Join(v.tmpRoot, fmt.Sprintf("rebuild-%d", v.rebuilds))
	storeDir := filepath.Join(dir, "store")
	if has("store") {
		storeDir = filepath.Join(dir, "elsewhere", "much", "deeper", "kiln-store-"+strconv.Itoa(v.rebuilds))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	file, cwd, err := v.workdir(dir, has("cwd"))
	if err != nil {
		return nil, nil, err
	}
	exe, err := kilnExecutable()
	if err != nil {
		return nil, nil, err
	}
	jobs := v.f.build.jobs
	if has("jobs") {
		if jobs > 1 {
			jobs = 1
		} else {
			jobs = max(runtime.NumCPU(), 2)
		}
	}
	args := []string{"build", "-f", file, "--store", storeDir, "-j", strconv.Itoa(jobs), "--progress", "plain",
		"--source-date-epoch", strconv.FormatInt(v.res.proj.epoch, 10), "--locked=false"}
	for _, kv := range v.g.vars {
		args = append(args, "--var", kv)
	}
	for _, vf := range v.g.varFiles {
		abs, err := filepath.Abs(vf)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, "--var-file", abs)
	}
	for _, s := range v.f.build.secrets {
		args = append(args, "--secret", absSecret(s))
	}
	for _, t := range v.res.graph.Targets {
		args = append(args, t.Address)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	// Stopped as a user would stop it, so that it stops its steps and
	// leaves nothing mounted in the store about to be removed; killed only
	// if it does not end.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	cmd.Dir = cwd
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "KILN_STORE" || k == "SOURCE_DATE_EPOCH" || k == verifyChildEnv ||
			has("tz") && k == "TZ" || has("locale") && (k == "LANG" || k == "LC_ALL" || strings.HasPrefix(k, "LC_"))
	})
	var child []string
	if has("tz") {
		env = append(env, "TZ=Pacific/Chatham")
	}
	if has("locale") {
		env = append(env, "LANG=tr_TR.UTF-8", "LC_ALL=tr_TR.UTF-8")
	}
	if has("umask") {
		child = append(child, "umask=077")
	}
	if has("hostname") {
		child = append(child, "hostname=kiln-verify-"+strconv.Itoa(v.rebuilds))
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	}
	if has("order") {
		child = append(child, "shuffle=1")
	}
	if len(child) > 0 {
		env = append(env, verifyChildEnv+"="+strings.Join(child, ","))
	}
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err = startPinned(cmd, has("cpus"), has("kernel")); err == nil {
		err = cmd.Wait()
	}
	v.lastEnd = time.Now()
	logPath := filepath.Join(dir, "build.log")
	os.WriteFile(logPath, out.Bytes(), 0o644)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, errors.New("interrupted: the rebuild was stopped")
		}
		return nil, nil, fmt.Errorf("verify: the rebuild (%s) failed where the first build succeeded: %v\n%s", strings.Join(vary, ", "), err, tail(out.String(), 20))
	}
	st, err := store.Open(storeDir, store.WithReadOnly())
	if err != nil {
		return nil, nil, fmt.Errorf("opening the rebuild's store: %w", err)
	}
	again, err := st.LookupMany(v.closure)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	var mm []mismatch
	bad := map[digest.Digest]bool{}
	for _, d := range v.closure {
		o, ok1 := v.first[d]
		n, ok2 := again[d]
		if !ok1 || !ok2 || realize.OutputID(o) == realize.OutputID(n) {
			continue
		}
		m := mismatch{d: d, old: o, new: n}
		if inheritedOnly(v.res.graph.Nodes[d], v.first, o, n) {
			for _, in := range v.res.graph.Nodes[d].Inputs {
				if bad[in] {
					m.followOnly = append(m.followOnly, v.res.graph.Nodes[in].Name)
				}
			}
		}
		bad[d] = true
		mm = append(mm, m)
	}
	return mm, st, nil
}

// inheritedOnly tells whether every layer that differs between o and n is
// one the derivation took from an input: its own work was reproducible.
func inheritedOnly(n *compiler.Derivation, first map[digest.Digest]store.Output, o, nw store.Output) bool {
	if !slices.Equal(o.Blobs, nw.Blobs) || len(o.Layers) != len(nw.Layers) {
		return false
	}
	inherited := map[digest.Digest]bool{}
	for _, in := range n.Inputs {
		for _, l := range first[in].Layers {
			inherited[l] = true
		}
	}
	for i := range o.Layers {
		if o.Layers[i] != nw.Layers[i] && !inherited[o.Layers[i]] {
			return false
		}
	}
	return true
}

// workdir is the build file and working directory of a rebuild: a copy of
// the build file's folder (without the store, when it lives inside) when
// the working directory is varied, else the original.
func (v *verifier) workdir(dir string, vary bool) (file, cwd string, err error) {
	abs, err := filepath.Abs(v.g.file)
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
	for _, p := range []string{v.res.st.Root(), v.tmpRoot} {
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

// isolate rebuilds with no variation, then with one at a time, to say
// which exposes each mismatch. Rebuilds stop once every mismatch is
// explained.
func (v *verifier) isolate(ctx context.Context, vary []string, mm []mismatch) (map[digest.Digest]string, error) {
	exposed := map[digest.Digest]string{}
	open := map[digest.Digest]bool{}
	for _, m := range mm {
		open[m.d] = true
	}
	tries := [][]string{{}}
	if len(vary) > 1 {
		for _, x := range vary {
			tries = append(tries, []string{x})
		}
	}
	for _, try := range tries {
		if len(open) == 0 {
			break
		}
		label := "no variation (a plain rebuild)"
		if len(try) > 0 {
			label = try[0] + " alone"
		}
		fmt.Printf("isolating: rebuilding with %s\n", label)
		got, st, err := v.rebuild(ctx, try)
		if err != nil {
			return nil, err
		}
		st.Close()
		for _, m := range got {
			if !open[m.d] {
				continue
			}
			delete(open, m.d)
			if len(try) == 0 {
				exposed[m.d] = "any rebuild: the step differs on a plain rebuild, without any variation"
			} else {
				exposed[m.d] = try[0]
			}
		}
	}
	for d := range open {
		if len(vary) == 1 {
			exposed[d] = vary[0]
		} else {
			exposed[d] = "only the variations together (" + strings.Join(vary, ", ") + ")"
		}
	}
	return exposed, nil
}

// report prints each mismatch with what differs inside its output. other
// is the rebuild's store, closed here.
func (v *verifier) report(round int, mm []mismatch, other *store.Store, exposed map[digest.Digest]string) {
	defer other.Close()
	causes := 0
	for _, m := range mm {
		if len(m.followOnly) == 0 {
			causes++
		}
	}
	fmt.Printf("round %d: %d of %d derivations differ; %d step(s) are not reproducible themselves\n", round, len(mm), len(v.closure), causes)
	for _, m := range mm {
		n := v.res.graph.Nodes[m.d]
		if len(m.followOnly) > 0 {
			fmt.Printf("\n%s (%s): differs only through its input %s\n", n.Name, m.d, strings.Join(m.followOnly, ", "))
			continue
		}
		fmt.Printf("\nMISMATCH %s (%s)\n", n.Name, m.d)
		if n.Description != "" {
			fmt.Printf("  step: %s\n", n.Description)
		}
		fmt.Printf("  first build: output %s\n  rebuild:     output %s\n", realize.OutputID(m.old), realize.OutputID(m.new))
		if why, ok := exposed[m.d]; ok {
			fmt.Printf("  exposed by: %s\n", why)
		}
		if !slices.Equal(m.old.Blobs, m.new.Blobs) {
			fmt.Printf("  blobs %v -> %v\n", m.old.Blobs, m.new.Blobs)
		}
		if len(m.old.Layers) != len(m.new.Layers) {
			fmt.Printf("  layers: %d -> %d\n", len(m.old.Layers), len(m.new.Layers))
		}
		inherited := map[digest.Digest]bool{}
		for _, in := range n.Inputs {
			for _, l := range v.first[in].Layers {
				inherited[l] = true
			}
		}
		for i := 0; i < min(len(m.old.Layers), len(m.new.Layers)); i++ {
			a, b := m.old.Layers[i], m.new.Layers[i]
			if a == b || inherited[a] {
				continue
			}
			fmt.Printf("  layer %d: %s -> %s\n", i, a, b)
			for _, line := range diffTrees(v.res.st.LayerPath(a), other.LayerPath(b)) {
				fmt.Println("    " + line)
			}
		}
	}
	fmt.Println()
}

// kilnExecutable is the kiln to re-run: the one on PATH under the name this
// process was started as, so that test harnesses that dispatch on the
// program name work, else this process's executable.
func kilnExecutable() (string, error) {
	if a := os.Args[0]; a != "" {
		if p, err := exec.LookPath(a); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				return abs, nil
			}
		}
	}
	return os.Executable()
}

func absSecret(spec string) string {
	parts := strings.Split(spec, ",")
	for i, p := range parts {
		if v, ok := strings.CutPrefix(p, "src="); ok {
			if abs, err := filepath.Abs(v); err == nil {
				parts[i] = "src=" + abs
			}
		}
	}
	return strings.Join(parts, ",")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
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

// oneCPU tells whether this process may already run on one CPU only.
func oneCPU() bool {
	var set unix.CPUSet
	return unix.SchedGetaffinity(0, &set) == nil && set.Count() <= 1
}
