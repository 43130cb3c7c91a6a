package realize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/internal/unixmode"
	"github.com/kiln-build/kiln/realize/executor"
	"github.com/kiln-build/kiln/realize/overlay"
	"github.com/kiln-build/kiln/realize/snapshot"
	"github.com/kiln-build/kiln/store"
)

// file applies a FileOp's actions into a fresh upper directory, reading the
// base and copy sources through read-only merged views of their layers, and
// stores the upper as one new layer. No sandbox is needed: kiln itself does
// the work and never follows a symlink out of a view or the upper.
func (r *Realizer) file(ctx context.Context, dg digest.Digest, d *compiler.Derivation, inputs []store.Output) (store.Output, error) {
	fo := d.File
	if out, ok, err := r.fileOnExecutor(ctx, dg, d, inputs); err != nil || ok {
		return out, err
	}
	tmp, err := r.st.TempDir("file-")
	if err != nil {
		return store.Output{}, err
	}
	defer os.RemoveAll(tmp)
	upper, err := r.newTree()
	if err != nil {
		return store.Output{}, err
	}
	defer os.RemoveAll(upper)
	views := map[int]string{}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	view := func(idx int) (string, error) {
		if v, ok := views[idx]; ok {
			return v, nil
		}
		var layers []digest.Digest
		if idx >= 0 {
			layers = inputs[idx].Layers
		}
		v, cleanup, err := r.mountView(tmp, len(views), layers)
		if err != nil {
			return "", err
		}
		cleanups = append(cleanups, cleanup)
		views[idx] = v
		return v, nil
	}
	base, err := view(fo.Base)
	if err != nil {
		return store.Output{}, err
	}
	var root store.Output
	if fo.Base >= 0 {
		root = inputs[fo.Base]
	}
	fa := &fileApplier{upper: upper, base: base}
	for _, a := range fo.Actions {
		if err := ctx.Err(); err != nil {
			return store.Output{}, err
		}
		var err error
		if a.Owner != "" {
			// Looked up before the action writes anything, in the
			// state as the earlier actions of this op left it.
			if a.UID, a.GID, err = fa.lookupOwner(a.Owner); err != nil {
				return store.Output{}, fmt.Errorf("%s %s: %w", a.Action, a.Path, err)
			}
		}
		if a.Action == "copy" {
			var src string
			if src, err = view(a.SrcInput); err == nil {
				err = fa.copy(src, a)
			}
		} else {
			err = fa.apply(a)
		}
		if err != nil {
			return store.Output{}, fmt.Errorf("%s %s: %w", a.Action, a.Path, err)
		}
	}
	layers, err := r.addTree(upper, d.SourceDateEpoch)
	if err != nil {
		return store.Output{}, err
	}
	return carryImageConfig(root, store.Output{Layers: append(append([]digest.Digest(nil), root.Layers...), layers...)}), nil
}

// fileOnExecutor offers the file step to an executor that runs file
// steps (a BuildKit daemon) and stores its result as a local file step's.
// Steps with a copy or an owner name stay in kiln: a copy reads other
// states kiln would have to send, and a name is looked up in the state as
// the step's earlier actions leave it. ok is false when the step is to be
// applied here.
func (r *Realizer) fileOnExecutor(ctx context.Context, dg digest.Digest, d *compiler.Derivation, inputs []store.Output) (store.Output, bool, error) {
	fr, isRunner := r.opts.Executor.(executor.FileRunner)
	if !isRunner {
		return store.Output{}, false, nil
	}
	fo := d.File
	spec := executor.FileSpec{ID: "kiln-" + dg.Encoded()[:16] + "-" + randomSuffix()}
	for _, a := range fo.Actions {
		if a.Action == "copy" || a.Owner != "" {
			return store.Output{}, false, nil
		}
		spec.Actions = append(spec.Actions, executor.FileAction{
			Action: a.Action, Path: a.Path, Mode: a.Mode, UID: a.UID, GID: a.GID,
			Data: a.Data, Target: a.Target, Parents: a.Parents, AllowNotFound: a.AllowNotFound,
		})
	}
	if err := r.prepareExecutor(ctx); err != nil {
		return store.Output{}, false, err
	}
	tmp, err := r.st.TempDir("file-")
	if err != nil {
		return store.Output{}, false, err
	}
	defer os.RemoveAll(tmp)
	upper, err := r.newTree()
	if err != nil {
		return store.Output{}, false, err
	}
	defer os.RemoveAll(upper)
	var root store.Output
	if fo.Base >= 0 {
		root = inputs[fo.Base]
	}
	spec.Base, spec.Upper, spec.Scratch = r.layers(root.Layers), upper, tmp
	if err := fr.File(ctx, spec); err != nil {
		if errors.Is(err, executor.ErrRunLocally) {
			return store.Output{}, false, nil
		}
		return store.Output{}, false, &BuildError{Digest: dg, Name: d.Name, Err: err}
	}
	layers, err := r.addTree(upper, d.SourceDateEpoch)
	if err != nil {
		return store.Output{}, false, err
	}
	return carryImageConfig(root, store.Output{Layers: append(append([]digest.Digest(nil), root.Layers...), layers...)}), true, nil
}

// mountView returns a read-only directory showing the merged layers: an
// empty directory, the single layer itself, or a read-only overlay. The
// overlay is a detached mount, reached through its file descriptor and in
// no mount table: a kiln killed during the step leaves nothing mounted
// (an attached view made the store's tmp impossible to clean). Only kernels
// without the new mount API get a view mounted under tmp, which the store
// unmounts when it is next opened if kiln dies first.
func (r *Realizer) mountView(tmp string, n int, layers []digest.Digest) (string, func(), error) {
	switch len(layers) {
	case 0:
		p := filepath.Join(tmp, fmt.Sprintf("empty%d", n))
		return p, func() {}, os.Mkdir(p, 0o755)
	case 1:
		return r.st.LayerPath(layers[0]), func() {}, nil
	}
	lowers := r.layerPaths(layers)
	if len(lowers) == 1 { // a layer repeated: overlayfs needs two lowers without an upper
		return lowers[0], func() {}, nil
	}
	kind, _, err := snapshot.Choose(tmp)
	if err != nil {
		return "", nil, err
	}
	if kind == snapshot.Copy {
		// Read only by the file step, never written: nothing to diff.
		t, err := snapshot.Assemble(filepath.Join(tmp, fmt.Sprintf("view%d", n)), lowers)
		if err != nil {
			return "", nil, viewError(len(layers), err)
		}
		return t.Dir, func() {}, nil
	}
	cfg := overlay.Config{Lowers: lowers, ReadOnly: true}
	m, err := overlay.Detached(cfg)
	if err == nil {
		return m.Path(), func() { m.Close() }, nil
	}
	if !errors.Is(err, overlay.ErrUnsupported) {
		return "", nil, viewError(len(layers), err)
	}
	p := filepath.Join(tmp, fmt.Sprintf("view%d", n))
	if err := os.Mkdir(p, 0o755); err != nil {
		return "", nil, err
	}
	if err := overlay.MountAt(p, cfg); err != nil {
		return "", nil, viewError(len(layers), err)
	}
	return p, func() { unix.Unmount(p, unix.MNT_DETACH) }, nil
}

func viewError(layers int, err error) error {
	var deep *overlay.TooDeepError
	if errors.As(err, &deep) {
		return err
	}
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("mounting a view of %d layers needs root (overlayfs): %w", layers, err)
	}
	return fmt.Errorf("mounting a view of %d layers: %w", layers, err)
}

// fileApplier writes actions into upper, consulting base for what exists.
type fileApplier struct {
	upper, base string
}

// lstat looks p up in the upper first, then the base view. A whiteout (a
// character device 0/0: one left by rm in the upper, or one in a
// single-layer view) reads as absent, and one in the upper hides the base.
func (f *fileApplier) lstat(p string) (fs.FileInfo, bool, error) {
	for _, root := range []string{f.upper, f.base} {
		fi, err := lstatIn(root, p)
		if err == nil {
			if isWhiteout(fi) {
				return nil, false, fs.ErrNotExist
			}
			return fi, root == f.upper, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return nil, false, err
		}
	}
	return nil, false, fs.ErrNotExist
}

// resolve follows the symlinks on the way to p the way a process
// chrooted into the state would, as Docker's COPY and BuildKit's file ops
// do: a link to /usr/bin makes /bin/tool /usr/bin/tool. An absolute target
// starts again at the state's root and ".." stops there, so the result is
// always a path inside the state. The last element is followed only when
// followLast is set (rm and symlink act on a link itself).
func (f *fileApplier) resolve(p string, followLast bool) (string, error) {
	rest := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := "/"
	for hops := 0; len(rest) > 0; {
		part := rest[0]
		rest = rest[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		if len(rest) == 0 && !followLast {
			return next, nil
		}
		fi, inUpper, err := f.lstat(next)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next // absent or not a link: taken as it is
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		root := f.base
		if inUpper {
			root = f.upper
		}
		// lstat found next with real directories above it in root, so
		// reading the link looks at nothing outside root.
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// lstatIn is os.Lstat of root/p that never resolves a symlink: an ancestor
// of p that is not a directory (a symlink, which may point anywhere on the
// host) makes p absent (ENOTDIR), so nothing outside root is ever looked at.
func lstatIn(root, p string) (fs.FileInfo, error) {
	cur := root
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	for i, part := range parts {
		if part == "" {
			break
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return nil, err
		}
		if i < len(parts)-1 && !fi.IsDir() {
			return nil, &fs.PathError{Op: "lstat", Path: cur, Err: syscall.ENOTDIR}
		}
		if i == len(parts)-1 {
			return fi, nil
		}
	}
	return os.Lstat(root)
}

func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// ensureParents creates p's ancestors in the upper, mirroring the base's
// directories (mode, owner, mtime) so that the merged view is unchanged, and
// refusing to go through a symlink or a file.
func (f *fileApplier) ensureParents(p string, create bool) error {
	dir := path.Dir(p)
	if dir == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	cur := ""
	for _, part := range parts {
		cur += "/" + part
		up := filepath.Join(f.upper, cur)
		if fi, err := os.Lstat(up); err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", cur)
			}
			continue
		}
		fi, _, err := f.lstat(cur)
		switch {
		case err == nil && fi.IsDir():
			st := fi.Sys().(*syscall.Stat_t)
			if err := os.Mkdir(up, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(up, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
			if err := os.Lchown(up, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
			if err := os.Chtimes(up, fi.ModTime(), fi.ModTime()); err != nil {
				return err
			}
		case err == nil:
			return fmt.Errorf("%s is not a directory (it is a %s)", cur, typeName(fi))
		case !create:
			return fmt.Errorf("parent directory %s does not exist (set parents = true)", cur)
		default:
			if err := os.Mkdir(up, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(up, 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

func typeName(fi fs.FileInfo) string {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return "symlink"
	case fi.Mode().IsRegular():
		return "file"
	}
	return fi.Mode().Type().String()
}

func (f *fileApplier) apply(a compiler.FileAction) error {
	if path.Clean("/"+a.Path) == "/" {
		return fmt.Errorf("cannot %s the root directory", a.Action)
	}
	// mkdir and mkfile go where the path leads, as in Docker; rm and
	// symlink act on the last element itself.
	p, err := f.resolve(a.Path, a.Action == "mkdir" || a.Action == "mkfile")
	if err != nil {
		return err
	}
	up := filepath.Join(f.upper, p)
	if p == "/" {
		return fmt.Errorf("cannot %s the root directory", a.Action)
	}
	switch a.Action {
	case "mkdir":
		if err := f.ensureParents(p, a.Parents); err != nil {
			return err
		}
		if fi, _, err := f.lstat(p); err == nil && !fi.IsDir() {
			return fmt.Errorf("a %s already exists there", typeName(fi))
		}
		if err := os.Mkdir(up, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return setMeta(up, a.Mode, a.UID, a.GID)
	case "mkfile":
		if err := f.ensureParents(p, a.Parents); err != nil {
			return err
		}
		if fi, _, err := f.lstat(p); err == nil && fi.IsDir() {
			return fmt.Errorf("a directory already exists there")
		}
		os.Remove(up)
		if err := os.WriteFile(up, []byte(a.Data), 0o600); err != nil {
			return err
		}
		return setMeta(up, a.Mode, a.UID, a.GID)
	case "symlink":
		if err := f.ensureParents(p, true); err != nil {
			return err
		}
		os.Remove(up)
		if err := os.Symlink(a.Target, up); err != nil {
			return err
		}
		return os.Lchown(up, a.UID, a.GID)
	case "rm":
		_, inUpper, err := f.lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if a.AllowNotFound {
				return nil
			}
			return fmt.Errorf("no such file or directory")
		}
		if err != nil {
			return err
		}
		if inUpper {
			if err := os.RemoveAll(up); err != nil {
				return err
			}
		}
		if _, err := lstatIn(f.base, p); err == nil {
			if err := f.ensureParents(p, true); err != nil {
				return err
			}
			return unix.Mknod(up, unix.S_IFCHR|0o000, 0) // overlayfs whiteout
		}
		return nil
	}
	return fmt.Errorf("unknown file action %q", a.Action)
}

func setMeta(p string, mode uint32, uid, gid int) error {
	if err := os.Chmod(p, unixmode.ToFileMode(mode)); err != nil {
		return err
	}
	return os.Lchown(p, uid, gid)
}

// copy copies a.Src out of the view src into the upper at a.Path with
// Docker's COPY semantics: a directory's contents go into the destination;
// a file goes to dest, or into it when dest ends in "/" or is a directory.
// The last path element may be a glob.
func (f *fileApplier) copy(src string, a compiler.FileAction) error {
	matches, err := globInView(src, a.Src)
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		if a.AllowNotFound {
			return nil
		}
		return fmt.Errorf("%s matches nothing in the source state", a.Src)
	}
	dest, err := f.resolve(a.Path, true)
	if err != nil {
		return err
	}
	intoDir := strings.HasSuffix(a.Path, "/") || len(matches) > 1
	if fi, _, err := f.lstat(dest); err == nil && fi.IsDir() {
		intoDir = true
	}
	for _, m := range matches {
		fi, err := os.Lstat(m)
		if err != nil {
			return err
		}
		target := dest
		if fi.IsDir() {
			if err := f.mkdirDest(target, a); err != nil {
				return err
			}
			if err := f.copyTree(m, target, a); err != nil {
				return err
			}
			continue
		}
		if intoDir {
			if err := f.mkdirDest(dest, a); err != nil {
				return err
			}
			target = path.Join(dest, filepath.Base(m))
		} else if err := f.ensureParents(target, true); err != nil {
			return err
		}
		if err := f.copyEntry(m, fi, target, a); err != nil {
			return err
		}
	}
	return nil
}

// mkdirDest makes the destination directory of a copy.
func (f *fileApplier) mkdirDest(dest string, a compiler.FileAction) error {
	if dest == "/" {
		return nil
	}
	if err := f.ensureParents(dest, true); err != nil {
		return err
	}
	if fi, _, err := f.lstat(dest); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("destination %s is a %s, not a directory", dest, typeName(fi))
		}
		if _, err := os.Lstat(filepath.Join(f.upper, dest)); err == nil {
			return nil
		}
		// Mirror the existing directory into the upper unchanged.
		return f.ensureParents(path.Join(dest, "x"), true)
	}
	up := filepath.Join(f.upper, dest)
	if err := os.Mkdir(up, 0o755); err != nil {
		return err
	}
	return setMeta(up, 0o755, a.UID, a.GID)
}

func (f *fileApplier) copyTree(srcDir, dest string, a compiler.FileAction) error {
	return filepath.WalkDir(srcDir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == srcDir {
			return nil
		}
		rel, err := filepath.Rel(srcDir, p)
		if err != nil {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		target := path.Join(dest, filepath.ToSlash(rel))
		if fi.IsDir() {
			up := filepath.Join(f.upper, target)
			// An earlier copy may have left a symlink or a file here: the
			// directory replaces it. Writing through a symlink would write
			// wherever it points on the host.
			if old, err := os.Lstat(up); err == nil && !old.IsDir() {
				if err := os.Remove(up); err != nil {
					return err
				}
			}
			if err := os.Mkdir(up, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			return f.finish(up, fi, a)
		}
		return f.copyEntry(p, fi, target, a)
	})
}

// copyEntry copies one non-directory entry.
func (f *fileApplier) copyEntry(src string, fi fs.FileInfo, target string, a compiler.FileAction) error {
	up := filepath.Join(f.upper, target)
	if existing, err := os.Lstat(up); err == nil && existing.IsDir() {
		return fmt.Errorf("cannot overwrite directory %s with a file", target)
	}
	os.Remove(up)
	switch {
	case isWhiteout(fi):
		return nil // a whiteout in a single-layer view: the file is absent
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(t, up); err != nil {
			return err
		}
		return os.Lchown(up, a.UID, a.GID)
	case fi.Mode().IsRegular():
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(up, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		return f.finish(up, fi, a)
	default:
		return fmt.Errorf("cannot copy %s: it is a %s", src, fi.Mode().Type())
	}
}

// finish sets ownership, mode (the source's unless chmod was given) and the
// source's mtime, which normalization later clamps.
func (f *fileApplier) finish(up string, fi fs.FileInfo, a compiler.FileAction) error {
	mode := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if a.ChmodSet {
		mode = unixmode.ToFileMode(a.Mode)
	}
	if err := os.Lchown(up, a.UID, a.GID); err != nil {
		return err
	}
	if err := os.Chmod(up, mode); err != nil {
		return err
	}
	return os.Chtimes(up, fi.ModTime(), fi.ModTime())
}

// globInView resolves src inside root without following symlinks out of it.
// Only the last element may contain glob characters.
func globInView(root, src string) ([]string, error) {
	dir, pattern := path.Split(path.Clean("/" + src))
	if strings.ContainsAny(dir, "*?[") {
		return nil, fmt.Errorf("%s: glob characters are only supported in the last path element", src)
	}
	resolvedDir, err := securejoin.SecureJoin(root, dir)
	if err != nil {
		return nil, err
	}
	if pattern == "" { // src was "/"
		return []string{root}, nil
	}
	if !strings.ContainsAny(pattern, "*?[") {
		p, err := securejoin.SecureJoin(root, path.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		if fi, err := os.Lstat(p); err != nil || isWhiteout(fi) {
			return nil, nil
		}
		return []string{p}, nil
	}
	ents, err := os.ReadDir(resolvedDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		ok, err := path.Match(pattern, e.Name())
		if err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", src, err)
		}
		if ok {
			out = append(out, filepath.Join(resolvedDir, e.Name()))
		}
	}
	return out, nil
}
