package realize

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/platform"
	"github.com/kiln-build/kiln/internal/unixmode"
	"github.com/kiln-build/kiln/realize/executor"
	"github.com/kiln-build/kiln/store"
)

// layers returns a state's layers for the executor, bottom first. A
// layer that occurs more than once (two steps that produced the same
// files, such as two runs that only leave a mount point behind) is kept
// at its topmost place only: overlayfs refuses a lower directory listed
// twice (ELOOP), and the lower copy is entirely masked by the upper one,
// so the merged view is unchanged.
func (r *Realizer) layers(ls []digest.Digest) []executor.Layer {
	seen := make(map[digest.Digest]bool, len(ls))
	out := make([]executor.Layer, 0, len(ls))
	for i := len(ls) - 1; i >= 0; i-- {
		if seen[ls[i]] {
			continue
		}
		seen[ls[i]] = true
		out = append(out, executor.Layer{Digest: ls[i], Path: r.st.LayerPath(ls[i])})
	}
	slices.Reverse(out)
	return out
}

// layerPaths returns the directories of a state's layers, bottom first,
// each once (see layers).
func (r *Realizer) layerPaths(ls []digest.Digest) []string {
	layers := r.layers(ls)
	ps := make([]string, len(layers))
	for i, l := range layers {
		ps[i] = l.Path
	}
	return ps
}

// exec runs an exec derivation's command through the executor on its root
// state and mounts, and returns the root with what the command changed as
// one more layer.
func (r *Realizer) exec(ctx context.Context, dg digest.Digest, d *compiler.Derivation, inputs []store.Output) (store.Output, error) {
	ex := d.Exec
	if err := r.checkRunnable(d); err != nil {
		return store.Output{}, err
	}
	tmp, err := r.st.TempDir("exec-")
	if err != nil {
		return store.Output{}, err
	}
	defer os.RemoveAll(tmp)
	upper, err := r.newTree()
	if err != nil {
		return store.Output{}, err
	}
	defer os.RemoveAll(upper)
	scratch := filepath.Join(tmp, "executor")
	if err := os.Mkdir(scratch, 0o755); err != nil {
		return store.Output{}, err
	}
	var root store.Output
	if ex.Root >= 0 {
		root = inputs[ex.Root]
	}
	env, err := r.stepEnv(d, root)
	if err != nil {
		return store.Output{}, &BuildError{Digest: dg, Name: d.Name, Err: err}
	}
	plain := len(env)
	mounts, env, release, err := r.stepMounts(ctx, ex, inputs, tmp, env)
	defer release()
	if err != nil {
		return store.Output{}, err
	}
	log, err := r.newStepLog(dg, d)
	if err != nil {
		return store.Output{}, err
	}
	defer log.abort()
	lim := r.stepLimits(d)
	res, runErr := r.opts.Executor.Exec(ctx, executor.Spec{
		ID:          "kiln-" + dg.Encoded()[:16] + "-" + randomSuffix(),
		Root:        r.layers(root.Layers),
		Upper:       upper,
		Scratch:     scratch,
		Args:        ex.Args,
		Env:         env,
		SecretEnv:   env[plain:],
		Cwd:         ex.Cwd,
		User:        ex.User,
		Hostname:    ex.Hostname,
		HostNetwork: ex.Network == "host",
		Insecure:    ex.Security == "insecure",
		Mounts:      mounts,
		MemoryBytes: lim.MemoryBytes,
		Pids:        lim.Pids,
		Timeout:     time.Duration(lim.TimeoutSec) * time.Second,
		Stdout:      log.w,
		Stderr:      log.w,
	})
	logPath := log.commit()
	out, err := r.collectStep(ctx, d, root, upper, res, runErr, lim)
	if err != nil {
		return store.Output{}, &BuildError{Digest: dg, Name: d.Name, Err: err, LogTail: log.tail.lines(), LogPath: logPath}
	}
	return out, nil
}

// checkRunnable refuses a step kiln must not or cannot run here, before
// anything is prepared for it.
func (r *Realizer) checkRunnable(d *compiler.Derivation) error {
	if d.Exec.Security == "insecure" && !r.opts.AllowInsecure {
		return fmt.Errorf(`this step has security = "insecure" (every capability, no seccomp filter: it can do anything root can on this machine), which kiln runs only when asked to: pass --allow-insecure if you trust this build file`)
	}
	if d.Platform == "" || samePlatform(d.Platform, compiler.DefaultPlatform()) {
		return nil
	}
	// A foreign step runs only where the kernel hands its executables to
	// an emulator (binfmt_misc and qemu-user-static); otherwise it fails
	// here, saying what to install, and never runs some other way.
	want, err := platform.Parse(d.Platform)
	if err != nil {
		return fmt.Errorf("this step's platform: %w", err)
	}
	m, err := r.machine()
	if err != nil {
		return fmt.Errorf("this step is for %s: finding out whether this machine can emulate it: %w", d.Platform, err)
	}
	if err := m.Check(want); err != nil {
		return fmt.Errorf("this step is for %s, but %w", d.Platform, err)
	}
	return nil
}

// stepEnv is the step's environment before secrets: its own, or the
// image's extended by its own (ImageEnv), plus the impure variables of a
// fixed-output step.
func (r *Realizer) stepEnv(d *compiler.Derivation, root store.Output) ([]string, error) {
	ex := d.Exec
	env := append([]string(nil), ex.Env...)
	if ex.ImageEnv {
		var err error
		if env, err = r.imageEnv(root, ex.Env); err != nil {
			return nil, err
		}
	}
	if ex.OutputHash != "" || d.LockAddress != "" {
		// impure_env: only the names are in the digest; the values come
		// from kiln's own environment now (a proxy, a mirror), as with
		// Nix's impureEnvVars. The pinned output hash, checked below,
		// keeps them from changing the result. An unset variable stays
		// unset, so the step can fall back to its own default.
		for _, n := range ex.ImpureEnv {
			if v, ok := os.LookupEnv(n); ok {
				env = append(env, n+"="+v)
			}
		}
	}
	return env, nil
}

// stepMounts prepares the step's mounts in the derivation's order, with
// files the step needs (secrets, private caches) in tmp, and returns env
// with the secrets that are variables added. release lets go of the cache
// directories held for the step; it is never nil, and must be called
// even when stepMounts fails.
func (r *Realizer) stepMounts(ctx context.Context, ex *compiler.ExecOp, inputs []store.Output, tmp string, env []string) (mounts []executor.Mount, _ []string, release func(), err error) {
	var unlock []func()
	release = func() {
		for _, u := range unlock {
			u()
		}
	}
	for i, m := range ex.Mounts {
		switch m.Type {
		case "input":
			em, err := r.inputMount(m, inputs[m.Input])
			if err != nil {
				return nil, nil, release, err
			}
			mounts = append(mounts, em)
		case "cache":
			dir, rel, err := r.cacheDir(ctx, m, tmp, i)
			if err != nil {
				return nil, nil, release, err
			}
			unlock = append(unlock, rel)
			mounts = append(mounts, executor.Mount{Type: executor.MountCache, Source: dir, Dest: m.Dest, CacheID: m.CacheID, Sharing: m.Sharing})
		case "tmpfs":
			mounts = append(mounts, executor.Mount{Type: executor.MountTmpfs, Dest: m.Dest, SizeBytes: m.SizeBytes})
		case "secret":
			val, ok := r.opts.Secrets[m.SecretID]
			if !ok {
				if m.Required {
					return nil, nil, release, fmt.Errorf("secret %q is required: pass it with --secret id=%s,src=FILE or --secret id=%s,env=VAR", m.SecretID, m.SecretID, m.SecretID)
				}
				continue
			}
			if m.SecretEnv != "" {
				env = append(env, m.SecretEnv+"="+string(val))
			}
			if m.Dest != "" {
				p, err := secretFile(tmp, i, m, val)
				if err != nil {
					return nil, nil, release, err
				}
				mounts = append(mounts, executor.Mount{Type: executor.MountSecret, Source: p, Dest: m.Dest})
			}
		case "ssh":
			em, ok, err := r.sshMount(m)
			if err != nil {
				return nil, nil, release, err
			}
			if ok {
				mounts = append(mounts, em)
				env = setEnvDefault(env, "SSH_AUTH_SOCK", m.Dest)
			}
		default:
			return nil, nil, release, fmt.Errorf("unknown mount type %q", m.Type)
		}
	}
	return mounts, env, release, nil
}

// inputMount shows an input state (or one directory of it) at m.Dest.
func (r *Realizer) inputMount(m compiler.Mount, in store.Output) (executor.Mount, error) {
	layers := r.layers(in.Layers)
	if m.Selector != "" {
		var sel []executor.Layer
		for _, l := range layers {
			p := filepath.Join(l.Path, filepath.FromSlash(m.Selector))
			if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
				sel = append(sel, executor.Layer{Digest: l.Digest, Path: p})
			}
		}
		if len(sel) == 0 {
			return executor.Mount{}, fmt.Errorf("mount at %s: %s is not a directory in its input", m.Dest, m.Selector)
		}
		layers = sel
	}
	return executor.Mount{Type: executor.MountLayers, Dest: m.Dest, Layers: layers, Selector: m.Selector, ReadOnly: m.ReadOnly}, nil
}

// sshMount forwards the agent socket given for m's id (--ssh ID=SOCKET)
// into the step, bound as it is; ok is false for an optional agent that
// was not given.
func (r *Realizer) sshMount(m compiler.Mount) (em executor.Mount, ok bool, err error) {
	sock, given := r.opts.SSH[m.SSHID]
	if !given {
		if m.Required {
			return em, false, fmt.Errorf("ssh agent %q is required by a mount \"ssh\" at %s: pass --ssh %s to forward $SSH_AUTH_SOCK, or --ssh %s=SOCKET", m.SSHID, m.Dest, m.SSHID, m.SSHID)
		}
		return em, false, nil
	}
	fi, err := os.Stat(sock)
	if err != nil {
		return em, false, fmt.Errorf("ssh agent %q: %w", m.SSHID, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return em, false, fmt.Errorf("ssh agent %q: %s is not a socket", m.SSHID, sock)
	}
	return executor.Mount{Type: executor.MountSocket, Source: sock, Dest: m.Dest}, true, nil
}

// setEnvDefault adds k=v to env unless env sets k already (the stage's or
// step's own value wins).
func setEnvDefault(env []string, k, v string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			return env
		}
	}
	return append(env, k+"="+v)
}

// secretFile writes a secret's value for a mount into tmp.
func secretFile(tmp string, i int, m compiler.Mount, val []byte) (string, error) {
	p := filepath.Join(tmp, fmt.Sprintf("secret%d", i))
	if err := os.WriteFile(p, val, os.FileMode(m.Mode)); err != nil {
		return "", err
	}
	// The mode asked for, not what kiln's umask leaves of it: a step's
	// non-root user may need to read the secret.
	if err := os.Chmod(p, os.FileMode(m.Mode)); err != nil {
		return "", err
	}
	return p, nil
}

// stepLimits are the step's own limits, with the build's for those it
// does not set.
func (r *Realizer) stepLimits(d *compiler.Derivation) compiler.Limits {
	lim, build := d.Limits, r.limits()
	if lim.MemoryBytes == 0 {
		lim.MemoryBytes = build.MemoryBytes
	}
	if lim.Pids == 0 {
		lim.Pids = build.Pids
	}
	if lim.TimeoutSec == 0 {
		lim.TimeoutSec = build.TimeoutSec
	}
	return lim
}

// collectStep judges how the step ended and, when it succeeded, stores
// its changes (upper) as a layer on its root, checking a fixed output
// against its pin.
func (r *Realizer) collectStep(ctx context.Context, d *compiler.Derivation, root store.Output, upper string, res executor.Result, runErr error, lim compiler.Limits) (store.Output, error) {
	ex := d.Exec
	// A limit explains a failure better than its symptom (a kill, an exit
	// code, the executor's own time-limit error); a step stopped because
	// the build stopped is reported as stopped, whatever it hit on the way.
	if lerr := limitError(ex.Args, res, lim, d.Limits); lerr != nil && ctx.Err() == nil {
		return store.Output{}, lerr
	}
	switch {
	case runErr != nil:
		return store.Output{}, runErr
	case res.ExitCode != 0:
		return store.Output{}, fmt.Errorf("command %s exited with code %d", quoteArgs(ex.Args), res.ExitCode)
	}
	layers, err := r.addTree(upper, d.SourceDateEpoch)
	if err != nil {
		return store.Output{}, fmt.Errorf("storing its output: %w", err)
	}
	if err := checkFixedOutput(d, layers); err != nil {
		return store.Output{}, err
	}
	return carryImageConfig(root, store.Output{Layers: append(append([]digest.Digest(nil), root.Layers...), layers...)}), nil
}

// checkFixedOutput compares the layer of a fixed-output step with its pin.
func checkFixedOutput(d *compiler.Derivation, layers []digest.Digest) error {
	want := d.Exec.OutputHash
	if want == "" {
		return nil
	}
	if len(layers) == 0 {
		return fmt.Errorf("fixed-output step produced no files")
	}
	if got := layers[0]; string(got) != want {
		addr := d.LockAddress
		if addr == "" {
			addr = d.Name
		}
		return fmt.Errorf("fixed output mismatch: build.lock.hcl pins %s but the step produced %s; if the change is intended, run 'kiln lock --update %s'", want, got, addr)
	}
	return nil
}

// carryImageConfig passes the base image config of root on to out, so that
// a later step on out still finds it (ExecOp.ImageEnv), and keeps the blob
// alive for as long as out is. Naming the blob in out.Blobs also puts the
// config into OutputID: a step whose env comes from it is then not reused
// by early cutoff when only the config changed.
func carryImageConfig(root, out store.Output) store.Output {
	c := root.Meta[MetaImageConfig]
	if c == "" {
		return out
	}
	out.Meta = map[string]string{MetaImageConfig: c}
	out.Blobs = append(out.Blobs, digest.Digest(c))
	return out
}

// imageEnv is the environment of a step on an image: kiln's PATH and HOME
// defaults, overridden by the base image config's Env (as Docker and
// BuildKit do), overridden by own (kiln's fixed TZ, LANG and
// SOURCE_DATE_EPOCH, then stage and step env). The result is sorted.
func (r *Realizer) imageEnv(root store.Output, own []string) ([]string, error) {
	c := root.Meta[MetaImageConfig]
	if c == "" {
		return nil, fmt.Errorf("the step runs on an image, but the stored output of its root state does not name the image config (it was stored by an older kiln); build with a new store (--store DIR) to rebuild it")
	}
	b, err := os.ReadFile(r.st.BlobPath(digest.Digest(c)))
	if err != nil {
		return nil, fmt.Errorf("reading the base image config %s (no longer in the store? use a new store to fetch the base again): %w", c, err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("reading the base image config %s: %w", c, err)
	}
	vars := map[string]string{"PATH": compiler.DefaultPath, "HOME": compiler.DefaultHome}
	for _, list := range [][]string{cfg.Config.Env, own} {
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			if k != "" {
				vars[k] = v
			}
		}
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, nil
}

// cacheDir returns the persistent directory of a cache mount. "locked"
// caches are held by one step at a time, and a step waiting for one gives
// its job slot back meanwhile (the holder may be waiting for a slot
// itself); "private" ones get a fresh directory when another step holds
// the shared one.
func (r *Realizer) cacheDir(ctx context.Context, m compiler.Mount, tmp string, i int) (string, func(), error) {
	// UseCache keeps the cache from automatic collection while the step
	// runs and records its use, for pruning least recently used first.
	dir, done, err := r.st.UseCache(context.Background(), m.CacheID)
	if err != nil {
		return "", nil, err
	}
	if err := unixmode.MkdirAll(dir); err != nil {
		done()
		return "", nil, err
	}
	if err := cacheMode(dir, m.Mode); err != nil {
		done()
		return "", nil, err
	}
	// The lock is the store's, so that steps of other kiln processes
	// sharing the store are held off too.
	switch m.Sharing {
	case "locked":
		var unlock func()
		err := slotOf(ctx).wait(func(busy func()) (err error) {
			unlock, _, err = r.st.LockCache(ctx, m.CacheID, true, busy)
			return err
		})
		if err != nil {
			done()
			return "", nil, err
		}
		return dir, func() { unlock(); done() }, nil
	case "private":
		unlock, ok, err := r.st.LockCache(ctx, m.CacheID, false, nil)
		if err != nil {
			done()
			return "", nil, err
		}
		if ok {
			return dir, func() { unlock(); done() }, nil
		}
		done()
		p := filepath.Join(tmp, fmt.Sprintf("cache%d", i))
		if err := unixmode.MkdirAll(p); err != nil {
			return "", func() {}, err
		}
		return p, func() {}, cacheMode(p, m.Mode)
	}
	return dir, done, nil
}

// cacheMode gives a cache directory the mode its mount asks for (as
// BuildKit's --mount=type=cache,mode=), whatever kiln's umask or an
// earlier step with another mode left; 0 keeps kiln's 0755.
func cacheMode(dir string, mode uint32) error {
	if mode == 0 {
		return nil
	}
	if err := os.Chmod(dir, unixmode.ToFileMode(mode)); err != nil {
		return fmt.Errorf("setting the cache's mode: %w", err)
	}
	return nil
}

func quoteArgs(args []string) string {
	var b strings.Builder
	b.WriteByte('`')
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if strings.ContainsAny(a, " \t\n'\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		b.WriteString(a)
	}
	b.WriteByte('`')
	return b.String()
}

func randomSuffix() string {
	var b [4]byte
	f, err := os.Open("/dev/urandom")
	if err == nil {
		io.ReadFull(f, b[:])
		f.Close()
	}
	return hex.EncodeToString(b[:])
}

// samePlatform compares os/arch once normalised (a step for linux/x86_64
// or linux/aarch64 runs on the machine it names), ignoring a variant only
// the target names (linux/amd64 runs linux/amd64/v2 steps' binaries only if
// the CPU has the features, which the kernel checks, not kiln).
func samePlatform(want, host string) bool {
	w, err := platform.Parse(want)
	if err != nil {
		return false
	}
	h, err := platform.Parse(host)
	if err != nil {
		return false
	}
	return platform.SameArch(w, h)
}
