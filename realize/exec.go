package realize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/platform"
	"github.com/kiln-build/kiln/realize/sandbox"
	"github.com/kiln-build/kiln/store"
)

// layerPaths returns the directories of a state's layers, bottom first.
// A layer that occurs more than once (two steps that produced the same
// files, such as two runs that only leave a mount point behind) is kept
// at its topmost place only: overlayfs refuses a lower directory listed
// twice (ELOOP), and the lower copy is entirely masked by the upper one,
// so the merged view is unchanged.
func (r *Realizer) layerPaths(ls []digest.Digest) []string {
	seen := make(map[digest.Digest]bool, len(ls))
	out := make([]string, 0, len(ls))
	for i := len(ls) - 1; i >= 0; i-- {
		if seen[ls[i]] {
			continue
		}
		seen[ls[i]] = true
		out = append(out, r.st.LayerPath(ls[i]))
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (r *Realizer) exec(ctx context.Context, dg digest.Digest, d *compiler.Derivation, inputs []store.Output) (store.Output, error) {
	ex := d.Exec
	if ex.Security == "insecure" && !r.opts.AllowInsecure {
		return store.Output{}, fmt.Errorf(`this step has security = "insecure" (every capability, no seccomp filter: it can do anything root can on this machine), which kiln runs only when asked to: pass --allow-insecure if you trust this build file`)
	}
	if host := compiler.DefaultPlatform(); d.Platform != "" && !samePlatform(d.Platform, host) {
		return store.Output{}, fmt.Errorf("this step is for %s but this machine runs %s, and kiln does not emulate other platforms; build that platform on a matching machine", d.Platform, host)
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
	work := filepath.Join(tmp, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		return store.Output{}, err
	}
	var root store.Output
	if ex.Root >= 0 {
		root = inputs[ex.Root]
	}
	env := append([]string(nil), ex.Env...)
	if ex.ImageEnv {
		if env, err = r.imageEnv(root, ex.Env); err != nil {
			return store.Output{}, &BuildError{Digest: dg, Name: d.Name, Err: err}
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
	var mounts []sandbox.Mount
	var unlock []func()
	defer func() {
		for _, u := range unlock {
			u()
		}
	}()
	for i, m := range ex.Mounts {
		switch m.Type {
		case "input":
			lowers := r.layerPaths(inputs[m.Input].Layers)
			if m.Selector != "" {
				var sel []string
				for _, l := range lowers {
					p := filepath.Join(l, filepath.FromSlash(m.Selector))
					if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
						sel = append(sel, p)
					}
				}
				if len(sel) == 0 {
					return store.Output{}, fmt.Errorf("mount at %s: %s is not a directory in its input", m.Dest, m.Selector)
				}
				lowers = sel
			}
			sm := sandbox.Mount{Type: "overlay", Dest: m.Dest, Lowers: lowers, ReadOnly: m.ReadOnly}
			if !m.ReadOnly {
				// Writes go to a scratch upper that is thrown away: only the
				// root's changes are the step's output.
				sm.Upper = filepath.Join(tmp, fmt.Sprintf("mount%d-upper", i))
				sm.Work = filepath.Join(tmp, fmt.Sprintf("mount%d-work", i))
				if err := mkdirs(sm.Upper, sm.Work); err != nil {
					return store.Output{}, err
				}
			}
			mounts = append(mounts, sm)
		case "cache":
			dir, release, err := r.cacheDir(m, tmp, i)
			if err != nil {
				return store.Output{}, err
			}
			unlock = append(unlock, release)
			mounts = append(mounts, sandbox.Mount{Type: "bind", Source: dir, Dest: m.Dest})
		case "tmpfs":
			mounts = append(mounts, sandbox.Mount{Type: "tmpfs", Dest: m.Dest, SizeBytes: m.SizeBytes})
		case "secret":
			val, ok := r.opts.Secrets[m.SecretID]
			if !ok {
				if m.Required {
					return store.Output{}, fmt.Errorf("secret %q is required: pass it with --secret id=%s,src=FILE or --secret id=%s,env=VAR", m.SecretID, m.SecretID, m.SecretID)
				}
				continue
			}
			if m.SecretEnv != "" {
				env = append(env, m.SecretEnv+"="+string(val))
			}
			if m.Dest != "" {
				p := filepath.Join(tmp, fmt.Sprintf("secret%d", i))
				if err := os.WriteFile(p, val, os.FileMode(m.Mode)); err != nil {
					return store.Output{}, err
				}
				// The mode asked for, not what kiln's umask leaves of it:
				// a step's non-root user may need to read the secret.
				if err := os.Chmod(p, os.FileMode(m.Mode)); err != nil {
					return store.Output{}, err
				}
				mounts = append(mounts, sandbox.Mount{Type: "bind", Source: p, Dest: m.Dest, ReadOnly: true})
			}
		default:
			return store.Output{}, fmt.Errorf("unknown mount type %q", m.Type)
		}
	}

	logf, err := r.st.CreateLog(dg)
	if err != nil {
		return store.Output{}, err
	}
	committed := false
	defer func() {
		if !committed {
			logf.Abort()
		}
	}()
	tail := newTail(20)
	lines := &lineWriter{emit: func(line string) {
		tail.add(line)
		r.opts.Events(Event{Kind: EventLog, Digest: dg, Name: d.Name, Line: line})
	}}
	var out io.Writer = io.MultiWriter(logf, lines)
	// Every secret of the build, not only this step's: a cache mount can
	// carry one from the step that had it.
	var secrets [][]byte
	for _, v := range r.opts.Secrets {
		secrets = append(secrets, v)
	}
	red := newRedactor(out, secrets)
	if red != nil {
		out = red
	}
	lim := d.Limits
	if lim.MemoryBytes == 0 {
		lim.MemoryBytes = r.opts.Limits.MemoryBytes
	}
	if lim.Pids == 0 {
		lim.Pids = r.opts.Limits.Pids
	}
	if lim.TimeoutSec == 0 {
		lim.TimeoutSec = r.opts.Limits.TimeoutSec
	}
	spec := sandbox.Spec{
		ID:          "kiln-" + dg.Encoded()[:16] + "-" + randomSuffix(),
		Lowers:      r.layerPaths(root.Layers),
		Upper:       upper,
		Work:        work,
		Args:        ex.Args,
		Env:         env,
		Cwd:         ex.Cwd,
		User:        ex.User,
		Hostname:    ex.Hostname,
		Network:     ex.Network == "host",
		Mounts:      mounts,
		MemoryBytes: lim.MemoryBytes,
		Pids:        lim.Pids,
		Insecure:    ex.Security == "insecure",
		Timeout:     time.Duration(lim.TimeoutSec) * time.Second,
		Stdout:      out,
		Stderr:      out,
		StateDir:    filepath.Join(r.sandboxRoot(), "kiln-"+dg.Encoded()[:16]+"-"+filepath.Base(tmp)),
	}
	res, err := sandbox.Run(ctx, spec)
	if red != nil {
		red.Flush()
	}
	lines.flush()
	logPath := ""
	if cerr := logf.Commit(); cerr == nil {
		committed = true
		logPath = r.st.LogPath(dg)
	}
	fail := func(err error) (store.Output, error) {
		return store.Output{}, &BuildError{Digest: dg, Name: d.Name, Err: err, LogTail: tail.lines(), LogPath: logPath}
	}
	// A limit explains a failure better than its symptom (a kill, an exit
	// code, the sandbox's own time-limit error); a step stopped because
	// the build stopped is reported as stopped, whatever it hit on the way.
	if lerr := limitError(ex.Args, res, lim, d.Limits); lerr != nil && ctx.Err() == nil {
		return fail(lerr)
	}
	switch {
	case err != nil:
		return fail(err)
	case res.ExitCode != 0:
		return fail(fmt.Errorf("command %s exited with code %d", quoteArgs(ex.Args), res.ExitCode))
	}
	layers, err := r.addTree(upper, d.SourceDateEpoch)
	if err != nil {
		return fail(fmt.Errorf("storing its output: %w", err))
	}
	if ex.OutputHash != "" {
		if len(layers) == 0 {
			return fail(fmt.Errorf("fixed-output step produced no files"))
		}
		if got := layers[0]; string(got) != ex.OutputHash {
			addr := d.LockAddress
			if addr == "" {
				addr = d.Name
			}
			return fail(fmt.Errorf("fixed output mismatch: build.lock.hcl pins %s but the step produced %s; if the change is intended, run 'kiln lock --update %s'", ex.OutputHash, got, addr))
		}
	}
	return carryImageConfig(root, store.Output{Layers: append(append([]digest.Digest(nil), root.Layers...), layers...)}), nil
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
// caches are held by one step at a time; "private" ones get a fresh
// directory when another step holds the shared one.
func (r *Realizer) cacheDir(m compiler.Mount, tmp string, i int) (string, func(), error) {
	sum := sha256.Sum256([]byte(m.CacheID))
	dir := filepath.Join(r.st.Root(), "cache", hex.EncodeToString(sum[:16]))
	if err := mkdirs(dir); err != nil {
		return "", nil, err
	}
	// The lock is the store's, so that steps of other kiln processes
	// sharing the store are held off too.
	switch m.Sharing {
	case "locked":
		unlock, _, err := r.st.LockCache(context.Background(), m.CacheID, true)
		return dir, unlock, err
	case "private":
		if unlock, ok, err := r.st.LockCache(context.Background(), m.CacheID, false); err != nil || ok {
			return dir, unlock, err
		}
		p := filepath.Join(tmp, fmt.Sprintf("cache%d", i))
		return p, func() {}, mkdirs(p)
	}
	return dir, func() {}, nil
}

// mkdirs makes directories that a step sees (a cache, a mount's upper):
// 0755 whatever kiln's umask, as in Docker.
func mkdirs(ps ...string) error {
	for _, p := range ps {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
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

// lineWriter splits a byte stream into lines for progress events.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a line without end: emit what we have
		w.emit(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

// tail keeps the last n lines.
type tail struct {
	mu sync.Mutex
	n  int
	ls []string
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ls = append(t.ls, l)
	if len(t.ls) > t.n {
		t.ls = t.ls[len(t.ls)-t.n:]
	}
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.ls...)
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
