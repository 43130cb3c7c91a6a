// Package llbgraph translates a whole derivation graph into one BuildKit
// LLB definition, for `kiln llb`: a user can run it with plain buildctl
// and inspect it with `buildctl debug dump-llb`.
//
// Each derivation becomes the LLB op it was modelled on: exec -> llb.Run,
// file -> llb.File, merge -> llb.Merge, diff -> llb.Diff. Sources are not
// fetched by buildkitd: each is a local source named kiln-src-DIGEST whose
// directory is the source's layer in kiln's store (the caller fetches the
// sources first and passes their paths to buildctl with --local).
//
// What buildctl builds from this is BuildKit's result, not kiln's: kiln
// normalises each step's layer (mtimes clamped to SOURCE_DATE_EPOCH,
// xattrs filtered), and --buildkit builds go through kiln's store for
// that reason. Secrets keep their ids (pass them to buildctl --secret);
// their values are never in the definition.
package llbgraph

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
)

// Local is one local source the definition names.
type Local struct {
	Name string
	Dir  string
}

// Sources gives the store directories of a source derivation's layers,
// bottom first, and the image config Env of an image source (nil
// otherwise).
type Sources func(dg digest.Digest) (layers []string, imageEnv []string, err error)

type translator struct {
	g       *compiler.Graph
	src     Sources
	states  map[digest.Digest]llb.State
	env     map[digest.Digest][]string
	locals  []Local
	seenDir map[string]string
}

// Translate returns the LLB state of the derivation root and the local
// sources it reads.
func Translate(g *compiler.Graph, root digest.Digest, src Sources) (llb.State, []Local, error) {
	t := &translator{g: g, src: src, states: map[digest.Digest]llb.State{}, env: map[digest.Digest][]string{}, seenDir: map[string]string{}}
	if root == "" {
		return llb.Scratch(), nil, nil
	}
	st, err := t.state(root)
	return st, t.locals, err
}

func (t *translator) state(dg digest.Digest) (llb.State, error) {
	if st, ok := t.states[dg]; ok {
		return st, nil
	}
	d := t.g.Nodes[dg]
	if d == nil {
		return llb.State{}, fmt.Errorf("derivation %s is not in the graph", dg)
	}
	in := make([]llb.State, len(d.Inputs))
	for i, idg := range d.Inputs {
		st, err := t.state(idg)
		if err != nil {
			return llb.State{}, err
		}
		in[i] = st
		// The image config's Env travels with the root state, as the
		// realizer carries the config along.
		if i == 0 {
			t.env[dg] = t.env[idg]
		}
	}
	var st llb.State
	var err error
	switch d.Kind {
	case compiler.KindSource:
		st, err = t.source(dg, d)
	case compiler.KindExec:
		st, err = t.exec(dg, d, in)
	case compiler.KindFile:
		st, err = fileOp(d, in)
	case compiler.KindMerge:
		if len(in) == 0 {
			st = llb.Scratch()
		} else {
			st = llb.Merge(in, llb.WithCustomName(d.Name))
		}
	case compiler.KindDiff:
		if len(in) != 2 {
			return llb.State{}, fmt.Errorf("%s: a diff has %d inputs, want 2", d.Name, len(in))
		}
		st = llb.Diff(in[0], in[1], llb.WithCustomName(d.Name))
	default:
		return llb.State{}, fmt.Errorf("%s: kind %q has no LLB op", d.Name, d.Kind)
	}
	if err != nil {
		return llb.State{}, err
	}
	t.states[dg] = st
	return st, nil
}

func (t *translator) source(dg digest.Digest, d *compiler.Derivation) (llb.State, error) {
	layers, env, err := t.src(dg)
	if err != nil {
		return llb.State{}, fmt.Errorf("%s: %w", d.Name, err)
	}
	t.env[dg] = env
	var parts []llb.State
	for i, dir := range layers {
		name, ok := t.seenDir[dir]
		if !ok {
			name = fmt.Sprintf("kiln-src-%s-%d", dg.Encoded()[:12], i)
			t.seenDir[dir] = name
			t.locals = append(t.locals, Local{Name: name, Dir: dir})
		}
		parts = append(parts, llb.Local(name, llb.LocalUniqueID(name), llb.WithCustomName(fmt.Sprintf("%s (layer %d)", d.Name, i))))
	}
	switch len(parts) {
	case 0:
		return llb.Scratch(), nil
	case 1:
		return parts[0], nil
	}
	return llb.Merge(parts, llb.WithCustomName(d.Name)), nil
}

func (t *translator) exec(dg digest.Digest, d *compiler.Derivation, in []llb.State) (llb.State, error) {
	ex := d.Exec
	root := llb.Scratch()
	if ex.Root >= 0 {
		root = in[ex.Root]
	}
	env := ex.Env
	if ex.ImageEnv {
		env = imageEnv(t.env[dg], ex.Env)
	}
	opts := []llb.RunOption{llb.Args(ex.Args), llb.WithCustomName(d.Name + ": " + strings.Join(ex.Args, " "))}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		opts = append(opts, llb.AddEnv(k, v))
	}
	cwd := ex.Cwd
	if cwd == "" {
		cwd = "/"
	}
	opts = append(opts, llb.Dir(cwd), llb.Hostname(ex.Hostname))
	if ex.User != "" {
		opts = append(opts, llb.User(ex.User))
	}
	if ex.Network == "host" {
		opts = append(opts, llb.Network(llb.NetModeHost))
	} else {
		opts = append(opts, llb.Network(llb.NetModeNone))
	}
	if ex.Security == "insecure" {
		opts = append(opts, llb.Security(llb.SecurityModeInsecure))
	}
	for _, m := range ex.Mounts {
		switch m.Type {
		case "input":
			var mo []llb.MountOption
			if m.Selector != "" {
				mo = append(mo, llb.SourcePath(path.Join("/", m.Selector)))
			}
			if m.ReadOnly {
				mo = append(mo, llb.Readonly)
			}
			opts = append(opts, llb.AddMount(m.Dest, in[m.Input], mo...))
		case "cache":
			sharing := llb.CacheMountShared
			switch m.Sharing {
			case "locked":
				sharing = llb.CacheMountLocked
			case "private":
				sharing = llb.CacheMountPrivate
			}
			opts = append(opts, llb.AddMount(m.Dest, llb.Scratch(), llb.AsPersistentCacheDir(m.CacheID, sharing)))
		case "tmpfs":
			opts = append(opts, llb.AddMount(m.Dest, llb.Scratch(), llb.Tmpfs(llb.TmpfsSize(m.SizeBytes))))
		case "secret":
			var so []llb.SecretOption
			if !m.Required {
				so = append(so, llb.SecretOptional)
			}
			if m.SecretEnv != "" {
				opts = append(opts, llb.AddSecretWithDest(m.SecretID, nil, append(so, llb.SecretAsEnvName(m.SecretEnv))...))
			}
			if m.Dest != "" {
				opts = append(opts, llb.AddSecret(m.Dest, append(so, llb.SecretID(m.SecretID), llb.SecretFileOpt(0, 0, int(m.Mode)))...))
			}
		default:
			return llb.State{}, fmt.Errorf("%s: mount type %q has no LLB form", d.Name, m.Type)
		}
	}
	return root.Run(opts...).Root(), nil
}

// imageEnv is the realizer's rule: kiln's PATH and HOME, overridden by
// the image's Env, overridden by the step's own; sorted.
func imageEnv(image, own []string) []string {
	vars := map[string]string{"PATH": compiler.DefaultPath, "HOME": compiler.DefaultHome}
	for _, list := range [][]string{image, own} {
		for _, kv := range list {
			if k, v, _ := strings.Cut(kv, "="); k != "" {
				vars[k] = v
			}
		}
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func fileOp(d *compiler.Derivation, in []llb.State) (llb.State, error) {
	f := d.File
	base := llb.Scratch()
	if f.Base >= 0 {
		base = in[f.Base]
	}
	// A nil *llb.FileAction starts a chain: its methods then act as the
	// package's functions of the same names.
	var fa *llb.FileAction
	for _, a := range f.Actions {
		owner := llb.WithUIDGID(a.UID, a.GID)
		switch a.Action {
		case "mkdir":
			fa = fa.Mkdir(a.Path, modeOf(a.Mode), llb.WithParents(a.Parents), owner)
		case "mkfile":
			fa = fa.Mkfile(a.Path, modeOf(a.Mode), []byte(a.Data), owner)
		case "rm":
			fa = fa.Rm(a.Path, llb.WithAllowNotFound(a.AllowNotFound))
		case "symlink":
			fa = fa.Symlink(a.Target, a.Path, owner)
		case "copy":
			ci := &llb.CopyInfo{
				CopyDirContentsOnly: true,
				AllowWildcard:       true,
				AllowEmptyWildcard:  a.AllowNotFound,
				CreateDestPath:      a.Parents,
				ChownOpt:            &llb.ChownOpt{User: &llb.UserOpt{UID: a.UID}, Group: &llb.UserOpt{UID: a.GID}},
			}
			if a.ChmodSet {
				ci.Mode = &llb.ChmodOpt{Mode: modeOf(a.Mode)}
			}
			fa = fa.Copy(in[a.SrcInput], a.Src, a.Path, ci)
		default:
			return llb.State{}, fmt.Errorf("%s: file action %q has no LLB form", d.Name, a.Action)
		}
	}
	if fa == nil {
		return base, nil
	}
	return base.File(fa, llb.WithCustomName(d.Name)), nil
}

func modeOf(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}
