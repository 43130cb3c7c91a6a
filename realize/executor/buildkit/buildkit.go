// Package buildkit is an executor that runs kiln's exec steps on a
// buildkitd daemon instead of the local sandbox.
//
// kiln's store stays the authority. For each step the executor sends the
// step's root and input mounts from the store to the daemon as local
// sources (the session's filesync: one merged directory per state, which
// the daemon keeps and syncs incrementally between steps), runs the
// command with llb.Run, and asks for llb.Diff(root, result) back as an
// uncompressed OCI image. That image's one layer is the daemon's overlay
// upper directory of the run, the same changes a local sandbox leaves in
// its upper; kiln unpacks it into Spec.Upper in overlay form, and the
// realizer normalises and stores it exactly as a local step's, so outputs
// and image digests are the same as a local build's.
//
// Data cost: every step ships its root and mounts to the daemon (only
// what changed since the daemon's last copy of the same local name) and
// the step's changes come back once, uncompressed.
//
// LLB has no memory or process limits: a step's memory and pids limits
// are not enforced on the daemon, and the Pool says so once per build.
package buildkit

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bkclient "github.com/moby/buildkit/client"
	// docker-container:// and kube-pod:// addresses, as buildctl takes
	// them (through the docker and kubectl commands).
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"
	_ "github.com/moby/buildkit/client/connhelper/kubepod"
	"github.com/moby/buildkit/client/llb"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/filesync"
	"github.com/moby/buildkit/session/grpchijack"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/util/entitlements"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/realize/executor"
	"github.com/kiln-build/kiln/realize/overlay"
	"github.com/kiln-build/kiln/store/layer"
)

// Executor runs steps on one buildkitd.
type Executor struct {
	// Addr is the daemon's address as buildctl takes it (unix://,
	// tcp://, docker-container://, kube-pod://).
	Addr string
	// TLSDir holds ca.pem, cert.pem and key.pem for a tcp:// daemon that
	// wants TLS, as buildctl's --tlsdir ("": none).
	TLSDir string

	once   sync.Once
	c      *bkclient.Client
	dialEr error
}

func (e *Executor) client(ctx context.Context) (*bkclient.Client, error) {
	e.once.Do(func() {
		var opts []bkclient.ClientOpt
		if e.TLSDir != "" {
			opts = append(opts,
				bkclient.WithServerConfig("", filepath.Join(e.TLSDir, "ca.pem")),
				bkclient.WithCredentials(filepath.Join(e.TLSDir, "cert.pem"), filepath.Join(e.TLSDir, "key.pem")))
		}
		e.c, e.dialEr = bkclient.New(context.Background(), e.Addr, opts...)
	})
	return e.c, e.dialEr
}

// Prepare checks that the daemon answers and has a worker.
func (e *Executor) Prepare(ctx context.Context) error {
	c, err := e.client(ctx)
	if err != nil {
		return &DaemonError{Addr: e.Addr, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		return &DaemonError{Addr: e.Addr, Err: err}
	}
	if len(ws) == 0 {
		return &DaemonError{Addr: e.Addr, Err: errors.New("the daemon has no worker")}
	}
	return nil
}

// answers says whether the daemon answers within a few seconds.
func (e *Executor) answers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := e.c.ListWorkers(ctx)
	return err == nil
}

// DaemonError is a failure of the daemon or of the connection to it, as
// opposed to a step that ran and failed: a step that met one may be run
// again elsewhere.
type DaemonError struct {
	Addr string
	Err  error
}

func (e *DaemonError) Error() string {
	return fmt.Sprintf("buildkitd at %s: %v", e.Addr, e.Err)
}

func (e *DaemonError) Unwrap() error { return e.Err }

// Definition is one step as LLB, with what a solve of it needs besides.
type Definition struct {
	// State is the step's changes to its root (a Diff).
	State llb.State
	// Run is the full result of the step.
	Run llb.State
	// Locals are the directories the local sources name.
	Locals map[string]string
	// Secrets are the secret values by their ids.
	Secrets map[string][]byte
	// Entitlements are those the step needs.
	Entitlements []entitlements.Entitlement
	// RootDir is the directory sent as the step's root ("": scratch).
	RootDir string
	cleanup []func()
}

// Close unmounts what Translate mounted.
func (d *Definition) Close() {
	for i := len(d.cleanup) - 1; i >= 0; i-- {
		d.cleanup[i]()
	}
	d.cleanup = nil
}

// Translate turns spec into LLB. Layer stacks are mounted (read-only
// overlays) under spec.Scratch to be sent as one directory each; Close
// unmounts them.
func Translate(spec executor.Spec) (_ *Definition, err error) {
	d := &Definition{Locals: map[string]string{}, Secrets: map[string][]byte{}}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	state := func(layers []executor.Layer, slot string) (llb.State, error) {
		return d.local(layers, slot, spec.Scratch)
	}
	root, err := state(spec.Root, "root")
	if err != nil {
		return nil, err
	}
	secretEnv := map[string]bool{}
	for _, kv := range spec.SecretEnv {
		secretEnv[kv] = true
	}
	opts := []llb.RunOption{
		llb.Args(spec.Args),
		llb.WithCustomName(strings.Join(spec.Args, " ")),
	}
	for _, kv := range spec.Env {
		if secretEnv[kv] {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		opts = append(opts, llb.AddEnv(k, v))
	}
	for i, kv := range spec.SecretEnv {
		k, v, _ := strings.Cut(kv, "=")
		id := fmt.Sprintf("kiln-env-%d", i)
		d.Secrets[id] = []byte(v)
		opts = append(opts, llb.AddSecretWithDest(id, nil, llb.SecretAsEnvName(k)))
	}
	cwd := spec.Cwd
	if cwd == "" {
		cwd = "/"
	}
	opts = append(opts, llb.Dir(cwd))
	if spec.User != "" {
		opts = append(opts, llb.User(spec.User))
	}
	host := spec.Hostname
	if host == "" {
		host = "kiln"
	}
	opts = append(opts, llb.Hostname(host))
	if spec.HostNetwork {
		opts = append(opts, llb.Network(llb.NetModeHost))
		d.Entitlements = append(d.Entitlements, entitlements.EntitlementNetworkHost)
	} else {
		opts = append(opts, llb.Network(llb.NetModeNone))
	}
	if spec.Insecure {
		opts = append(opts, llb.Security(llb.SecurityModeInsecure))
		d.Entitlements = append(d.Entitlements, entitlements.EntitlementSecurityInsecure)
	}
	for i, m := range spec.Mounts {
		switch m.Type {
		case executor.MountLayers:
			st, err := state(m.Layers, "mount:"+m.Dest)
			if err != nil {
				return nil, err
			}
			var mo []llb.MountOption
			if m.ReadOnly {
				mo = append(mo, llb.Readonly)
			}
			opts = append(opts, llb.AddMount(m.Dest, st, mo...))
		case executor.MountCache:
			// The daemon keeps its own cache directories: kiln's are on
			// this machine.
			opts = append(opts, llb.AddMount(m.Dest, llb.Scratch(), llb.AsPersistentCacheDir("kiln-"+m.CacheID, cacheSharing(m.Sharing))))
		case executor.MountTmpfs:
			opts = append(opts, llb.AddMount(m.Dest, llb.Scratch(), llb.Tmpfs(llb.TmpfsSize(m.SizeBytes))))
		case executor.MountSecret:
			val, err := os.ReadFile(m.Source)
			if err != nil {
				return nil, err
			}
			fi, err := os.Stat(m.Source)
			if err != nil {
				return nil, err
			}
			id := fmt.Sprintf("kiln-file-%d", i)
			d.Secrets[id] = val
			opts = append(opts, llb.AddSecret(m.Dest, llb.SecretID(id), llb.SecretFileOpt(0, 0, int(fi.Mode().Perm()))))
		default:
			return nil, fmt.Errorf("mount at %s: type %q cannot be sent to buildkitd", m.Dest, m.Type)
		}
	}
	run := root.Run(opts...).Root()
	d.Run = run
	d.State = llb.Diff(root, run)
	return d, nil
}

// local is a state's layers as one local source, mounted (a read-only
// overlay) under scratch; Close unmounts it.
func (d *Definition) local(layers []executor.Layer, slot, scratch string) (llb.State, error) {
	if len(layers) == 0 {
		return llb.Scratch(), nil
	}
	// Always through overlayfs, even for one layer: it turns the
	// layers' whiteouts and opaque directories into what the step
	// sees, where sending a layer as it is would send whiteout
	// devices. Read-only overlayfs needs two lowers: an empty
	// directory is the second.
	dir, err := os.MkdirTemp(scratch, "view")
	if err != nil {
		return llb.State{}, err
	}
	{
		ps := make([]string, len(layers))
		for i, l := range layers {
			ps[i] = l.Path
		}
		if len(ps) == 1 {
			empty, err := os.MkdirTemp(scratch, "empty")
			if err != nil {
				return llb.State{}, err
			}
			ps = append([]string{empty}, ps...)
		}
		if err := overlay.MountAt(dir, overlay.Config{Lowers: ps, ReadOnly: true}); err != nil {
			return llb.State{}, err
		}
		d.cleanup = append(d.cleanup, func() { unix.Unmount(dir, unix.MNT_DETACH) })
	}
	// The name is the stack's identity; the shared key is the slot
	// (root, or a mount's destination), so that the daemon syncs a
	// step's root against its last copy of a root, usually the
	// previous step's: only the files that step changed move.
	h := sha256.New()
	for _, l := range layers {
		io.WriteString(h, l.Path+"\n")
	}
	name := "kiln-" + hex.EncodeToString(h.Sum(nil))[:24]
	d.Locals[name] = dir
	if slot == "root" {
		d.RootDir = dir
	}
	return llb.Local(name, llb.SharedKeyHint("kiln-"+slot), llb.LocalUniqueID(name), llb.WithCustomName("[kiln] "+name)), nil
}

// Exec runs spec on the daemon.
func (e *Executor) Exec(ctx context.Context, spec executor.Spec) (executor.Result, error) {
	start := time.Now()
	c, err := e.client(ctx)
	if err != nil {
		return executor.Result{}, &DaemonError{Addr: e.Addr, Err: err}
	}
	d, err := Translate(spec)
	if err != nil {
		return executor.Result{}, err
	}
	defer d.Close()
	runCtx := ctx
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, spec.Timeout)
		defer cancel()
	}
	image := filepath.Join(spec.Scratch, "result.tar")
	err = e.solve(runCtx, c, d, image, spec.Stdout, spec.Stderr)
	res := executor.Result{Duration: time.Since(start)}
	if err != nil {
		var ee *gwpb.ExitError
		if errors.As(err, &ee) {
			res.ExitCode = int(ee.ExitCode)
			return res, nil
		}
		if spec.Timeout > 0 && errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			res.TimedOut = true
			return res, fmt.Errorf("time limit of %s hit", spec.Timeout)
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		// A daemon that still answers failed the step (a user that does
		// not exist, a mount it cannot make): running the step elsewhere
		// would fail the same way.
		if !errors.Is(err, errStoppedAnswering) && e.answers(ctx) {
			for _, en := range d.Entitlements {
				if strings.Contains(err.Error(), string(en)) {
					return res, fmt.Errorf("buildkitd at %s does not allow %s, which this step needs: start it with --allow-insecure-entitlement %s (%w)", e.Addr, en, en, err)
				}
			}
			return res, fmt.Errorf("buildkitd at %s: %w", e.Addr, err)
		}
		return res, &DaemonError{Addr: e.Addr, Err: err}
	}
	if err := unpackDiff(image, spec.Upper); err != nil {
		return res, fmt.Errorf("reading the step's changes from buildkitd: %w", err)
	}
	if err := timeWhiteouts(spec.Upper, time.Now()); err != nil {
		return res, fmt.Errorf("reading the step's changes from buildkitd: %w", err)
	}
	if err := ownCwdAsRoot(spec, d.RootDir); err != nil {
		return res, fmt.Errorf("reading the step's changes from buildkitd: %w", err)
	}
	return res, nil
}

// How often a running solve checks that its daemon still answers, and how
// long an answer may take. A daemon whose machine vanishes (powered off,
// cut off) sends no reset: the solve's connection would wait for the
// kernel's TCP timeout, many minutes. gRPC keepalive pings would find it
// sooner, but buildkitd's server keeps gRPC's default policy (at most one
// ping in 5 minutes) and closes a connection that pings more often, with
// the solves on it; a request of its own every probeEvery is allowed.
var (
	probeEvery   = 15 * time.Second
	probeTimeout = 10 * time.Second
)

// errStoppedAnswering ends a solve whose daemon missed two probes.
var errStoppedAnswering = errors.New("the daemon stopped answering")

// watch cancels a running solve when the daemon misses two probes in a
// row, until stop is closed.
func (e *Executor) watch(ctx context.Context, cancel context.CancelCauseFunc, stop <-chan struct{}) {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, pcancel := context.WithTimeout(ctx, probeTimeout)
		_, err := e.c.ListWorkers(pctx)
		pcancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			misses = 0
			continue
		}
		if misses++; misses >= 2 {
			cancel(errStoppedAnswering)
			return
		}
	}
}

// solve runs d on the daemon and writes its changes as an uncompressed OCI
// image to image, copying the run's output to stdout and stderr.
func (e *Executor) solve(runCtx context.Context, c *bkclient.Client, d *Definition, image string, stdout, stderr io.Writer) error {
	runCtx, cancel := context.WithCancelCause(runCtx)
	defer cancel(nil)
	stop := make(chan struct{})
	defer close(stop)
	go e.watch(runCtx, cancel, stop)
	def, err := d.State.Marshal(runCtx, llb.LinuxAmd64)
	if err != nil {
		return err
	}
	// kiln runs the session itself: SolveOpt's LocalMounts would send
	// every file as root's, as a build context is, and a step's changes
	// below a directory of another owner would then come back with that
	// directory as root's. The client checks LocalMounts against the
	// definition's local sources but serves them only from a session it
	// sets up itself, so the sources, the secrets and the export's file
	// all go through a session of kiln's.
	mounts := filesync.StaticDirSource{}
	for name, dir := range d.Locals {
		fs, err := fsutil.NewFS(dir)
		if err != nil {
			return err
		}
		mounts[name] = fs
	}
	output := func(map[string]string) (io.WriteCloser, error) { return os.Create(image) }
	sess, err := session.NewSession(runCtx, "")
	if err != nil {
		return err
	}
	sess.Allow(secretsprovider.FromMap(d.Secrets))
	if len(mounts) > 0 {
		sess.Allow(filesync.NewFSSyncProvider(mounts))
	}
	sess.Allow(filesync.NewFSSyncTarget(filesync.WithFSSync(0, output)))
	sessDone := make(chan struct{})
	go func() {
		defer close(sessDone)
		sess.Run(runCtx, grpchijack.Dialer(c.ControlClient()))
	}()
	defer func() {
		sess.Close()
		<-sessDone
	}()
	opt := bkclient.SolveOpt{
		// Only checked against the definition: with the session already
		// set up, the client registers no provider of its own for them.
		LocalMounts:           map[string]fsutil.FS(mounts),
		SharedSession:         sess,
		SessionPreInitialized: true,
		Exports: []bkclient.ExportEntry{{
			Type:   bkclient.ExporterOCI,
			Attrs:  map[string]string{"compression": "uncompressed", "force-compression": "true", "oci-mediatypes": "true"},
			Output: output,
		}},
	}
	for _, en := range d.Entitlements {
		opt.AllowedEntitlements = append(opt.AllowedEntitlements, string(en))
	}
	status := make(chan *bkclient.SolveStatus)
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		for s := range status {
			for _, l := range s.Logs {
				w := stdout
				if l.Stream == 2 {
					w = stderr
				}
				if w != nil {
					w.Write(l.Data)
				}
			}
		}
	}()
	_, err = c.Solve(runCtx, def, opt, status)
	<-logsDone
	if errors.Is(context.Cause(runCtx), errStoppedAnswering) {
		return errStoppedAnswering
	}
	return err
}

// unpackDiff unpacks the layers of the OCI image tar at path into upper,
// in overlay form.
func unpackDiff(path, upper string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// Index the archive's files by name, then read the blobs in place.
	type entry struct{ off, size int64 }
	files := map[string]entry{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(h.Name, "./")] = entry{off, h.Size}
	}
	read := func(name string) (io.Reader, error) {
		e, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("the exported image has no %s", name)
		}
		return io.NewSectionReader(f, e.off, e.size), nil
	}
	readJSON := func(name string, v any) error {
		r, err := read(name)
		if err != nil {
			return err
		}
		return json.NewDecoder(r).Decode(v)
	}
	blob := func(d ocispec.Descriptor) string {
		return "blobs/" + d.Digest.Algorithm().String() + "/" + d.Digest.Encoded()
	}
	var idx ocispec.Index
	if err := readJSON("index.json", &idx); err != nil {
		return err
	}
	if len(idx.Manifests) != 1 {
		return fmt.Errorf("the exported image has %d manifests, want 1", len(idx.Manifests))
	}
	var man ocispec.Manifest
	if err := readJSON(blob(idx.Manifests[0]), &man); err != nil {
		return err
	}
	switch len(man.Layers) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("the step's changes came back as %d layers, want 1", len(man.Layers))
	}
	r, err := read(blob(man.Layers[0]))
	if err != nil {
		return err
	}
	rc, err := layer.Decompress(r)
	if err != nil {
		return err
	}
	defer rc.Close()
	return layer.Unpack(rc, upper)
}

func cacheSharing(s string) llb.CacheMountSharingMode {
	switch s {
	case "locked":
		return llb.CacheMountLocked
	case "private":
		return llb.CacheMountPrivate
	}
	return llb.CacheMountShared
}

// ownCwdAsRoot gives the directories of a missing working directory that
// the daemon created the owner the local sandbox gives them: BuildKit
// creates them as the step's user, runc (kiln's sandbox) as root. Only a
// non-root step's matter: a root step's are root's either way, and a
// non-root step cannot have given them away itself in the sandbox, where
// root owns them.
func ownCwdAsRoot(spec executor.Spec, rootDir string) error {
	uid, _, _ := strings.Cut(spec.User, ":")
	if uid == "" || uid == "0" || uid == "root" || spec.Cwd == "" {
		return nil
	}
	rel := ""
	for _, c := range strings.Split(strings.Trim(filepath.Clean(spec.Cwd), "/"), "/") {
		if c == "" {
			continue
		}
		rel = filepath.Join(rel, c)
		if rootDir != "" {
			if _, err := os.Lstat(filepath.Join(rootDir, rel)); err == nil {
				continue
			}
		}
		p := filepath.Join(spec.Upper, rel)
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			return nil
		}
		if err := os.Lchown(p, 0, 0); err != nil {
			return err
		}
	}
	return nil
}

// timeWhiteouts gives each whiteout in upper the time now: in a local
// overlay a whiteout is made when the step deletes the file, so its mtime
// is the deletion's, which the realizer clamps to SOURCE_DATE_EPOCH; a
// layer tar's whiteout entry carries no such time.
func timeWhiteouts(upper string, now time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(now.UnixNano()), unix.NsecToTimespec(now.UnixNano())}
	return filepath.WalkDir(upper, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type()&os.ModeCharDevice == 0 {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Rdev != 0 {
			return nil
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}
