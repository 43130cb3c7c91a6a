package targets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/attest"
	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
)

// planned is one output of one target, resolved: parsed, its dest under
// the build folder when declared, named by the image's tags when the spec
// gives no name=.
type planned struct {
	t *compiler.Target
	o export.Output
}

// targetSpec is an --output spec and the target it is for ("" for every
// target of the build).
type targetSpec struct {
	target, spec string
}

// splitTargetSpec reads -o [TARGET=]SPEC. A spec's first field is a
// key=value, so a first field whose key is not a spec key names a target:
// image.app=type=oci,dest=a.oci. A target named like a key (dest, name)
// is given by its address.
func splitTargetSpec(s string) targetSpec {
	k, rest, ok := strings.Cut(s, "=")
	if !ok || strings.ContainsAny(k, ",\"") || export.IsKey(strings.TrimSpace(k)) {
		return targetSpec{spec: s}
	}
	return targetSpec{target: strings.TrimSpace(k), spec: rest}
}

// names reports whether name is how a command line names t: its address,
// or for an image or artifact its plain name.
func names(name string, t *compiler.Target) bool {
	return name == t.Address || (t.Kind != "stage" && name == t.Name)
}

// specsFor returns the specs that apply to t: the given ones for every
// target and for t, or else its declared ones (then relative dests are
// under the build folder).
func specsFor(t *compiler.Target, given []targetSpec) (specs []string, declaredSpecs bool) {
	for _, g := range given {
		if g.target == "" || names(g.target, t) {
			specs = append(specs, g.spec)
		}
	}
	if len(specs) > 0 {
		return specs, false
	}
	return declared(t), true
}

// plan resolves every output of the request's targets, checking what can
// be checked before anything is built: the specs, that each -o TARGET=
// names a target of the build, that an image output is for an image, and
// that no two outputs share a destination.
func (req Request) plan() ([]planned, error) {
	if _, err := attest.ParseSpecs(req.Evidence.Attest); err != nil {
		return nil, &UsageError{fmt.Errorf("--attest: %w", err)}
	}
	given := make([]targetSpec, len(req.Specs))
	for i, s := range req.Specs {
		given[i] = splitTargetSpec(s)
		if given[i].target == "" {
			continue
		}
		found := false
		for _, t := range req.Graph.Targets {
			found = found || names(given[i].target, t)
		}
		if !found {
			return nil, usageErrorf("-o %s: %s is not a target of this build (%s); name one of them, or drop the prefix to export every target", s, given[i].target, addresses(req.Graph.Targets))
		}
	}
	var out []planned
	for _, t := range req.Graph.Targets {
		specs, isDeclared := specsFor(t, given)
		var opts []export.ParseOption
		if t.Export != nil && t.Export.Image != nil && len(t.Export.Image.Tags) > 0 {
			opts = append(opts, export.DefaultNames(t.Export.Image.Tags))
		}
		for _, spec := range specs {
			o, err := export.ParseOutput(spec, opts...)
			if err != nil {
				return nil, &UsageError{fmt.Errorf("%s: %w", t.Address, err)}
			}
			if req.Force {
				o.Force = true
			}
			if isDeclared && o.Dest != "" && o.Dest != "-" && !path.IsAbs(o.Dest) {
				o.Dest = req.Dir + "/" + o.Dest
			}
			if export.ExportsImages(o.Type) && t.Kind != "image" {
				return nil, usageErrorf("%s is not an image: export it with %s", t.Address, export.FilesTypes("type="))
			}
			if err := req.checkAttest(t, o); err != nil {
				return nil, err
			}
			out = append(out, splitDocker(t, o)...)
		}
	}
	return out, sharedDests(out)
}

// sharedDests refuses two outputs writing to one destination: the second
// would fail (or, with force, replace the first) after the whole build.
func sharedDests(ps []planned) error {
	seen := map[string]*compiler.Target{}
	for _, p := range ps {
		if p.o.Dest == "" {
			continue
		}
		d := p.o.Dest
		if d != "-" {
			d = filepath.Clean(d)
		}
		if first, ok := seen[d]; ok {
			if first == p.t {
				return usageErrorf("%s: two outputs write to %s; give each its own dest", p.t.Address, p.o.Dest)
			}
			return usageErrorf("%s and %s would both be written to %s: give each target its own output with -o %s=SPEC", first.Address, p.t.Address, p.o.Dest, cliName(p.t))
		}
		seen[d] = p.t
	}
	return nil
}

// check says before the build whether an output's destination can be
// written: it must not exist (without force), and its folder must exist
// or be creatable (the export creates it).
func check(o export.Output) error {
	if o.Dest == "" || o.Dest == "-" {
		return nil
	}
	if _, err := os.Lstat(o.Dest); err == nil && !o.Force {
		return fmt.Errorf("%s: %w; remove it or add force=true to the output spec", o.Dest, export.ErrExists)
	}
	for d := filepath.Dir(filepath.Clean(o.Dest)); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("cannot write %s: %s is not a folder", o.Dest, d)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot write %s: %w", o.Dest, err)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// makeParent creates the missing folders above an output's destination,
// as buildx does for dest=.
func makeParent(o export.Output) error {
	if o.Dest == "" || o.Dest == "-" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(o.Dest)), 0o755); err != nil {
		return fmt.Errorf("creating the folder of %s: %w", o.Dest, err)
	}
	return nil
}

// addresses lists the targets' addresses, for messages.
func addresses(ts []*compiler.Target) string {
	as := make([]string, len(ts))
	for i, t := range ts {
		as[i] = t.Address
	}
	return strings.Join(as, ", ")
}

// cliName is how -o TARGET= names t most briefly.
func cliName(t *compiler.Target) string {
	if t.Kind == "stage" {
		return t.Address
	}
	return t.Name
}

// checkAttest refuses attestations on an output that cannot carry them: a
// docker archive holds one manifest, not an index (BuildKit drops them
// there; kiln says so instead).
func (req Request) checkAttest(t *compiler.Target, o export.Output) error {
	if t.Kind != "image" || !o.AssembleOptions().DockerMediaTypes {
		return nil
	}
	specs, err := req.attestSpecs(t)
	if err != nil {
		return err
	}
	if len(specs) > 0 {
		return usageErrorf("%s: type=%s cannot carry attestations (%s): export it with type=oci or type=registry, or add --attest type=%s,disabled=true", t.Address, o.Type, specs[0], specs[0].Type)
	}
	return nil
}

// Pushes reports whether any output of the request pushes to a registry:
// signing (kiln build --sign) has nothing to sign otherwise.
func Pushes(req Request) (bool, error) {
	ps, err := req.plan()
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.o.Type == "registry" {
			return true, nil
		}
	}
	return false, nil
}

// splitDocker plans a docker output of a multi-platform image as one
// archive per platform, DEST/linux_amd64.tar and so on (the folder names
// of split local and tar outputs): docker load takes one platform per
// image, and buildx refuses the case outright. Any other output is
// planned as it is.
func splitDocker(t *compiler.Target, o export.Output) []planned {
	if o.Type != "docker" || t.Kind != "image" || len(t.Platforms) < 2 || o.Dest == "" || o.Dest == "-" {
		return []planned{{t, o}}
	}
	out := make([]planned, 0, len(t.Platforms))
	for _, p := range t.Platforms {
		one := *t
		one.Platforms = []string{p}
		one.States = map[string]digest.Digest{p: t.States[p]}
		op := o
		op.Dest = filepath.Join(o.Dest, export.PlatformDir(p)+".tar")
		out = append(out, planned{&one, op})
	}
	return out
}
