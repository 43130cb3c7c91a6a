package lockfile

import (
	"sort"

	"github.com/kiln-build/kiln/lang"
)

// Input is one lockable input of a build.hcl: a source of a locked type or
// a fixed-output run step.
type Input struct {
	Address string
	Type    string
	// Source is set for sources; Stage and Step for fixed-output run steps.
	Source *lang.Source
	Stage  *lang.Stage
	Step   *lang.Step
	// Platforms are the image/oci-layout platforms to lock: the source's
	// own, else the project default, else (nil) every platform the index
	// lists.
	Platforms []string
	// Arches are the Debian architectures to lock a deb source for, sorted,
	// when its architecture differs between the platforms the targets are
	// built for (architecture = target_arch); nil for the source's own.
	Arches []string
}

// Inputs lists the lockable inputs of cfg, sorted by address. local
// sources are left out (hashed at build time), and so are types this
// package does not know.
func Inputs(cfg *lang.Config) []*Input {
	var out []*Input
	for _, s := range cfg.Sources {
		if !Locked(s.Type) {
			continue
		}
		in := &Input{Address: s.Address(), Type: s.Type, Source: s}
		if _, ok := kinds[s.Type].(platformKind); ok {
			in.Platforms = declaredPlatforms(s, cfg.Project.Platform)
		}
		if s.Type == TypeDeb {
			in.Arches = debArches(cfg, s)
		}
		out = append(out, in)
	}
	for _, st := range cfg.Stages {
		n := 0
		for _, step := range st.Steps {
			if step.Kind != "run" {
				continue
			}
			if step.FixedOutput {
				out = append(out, &Input{Address: RunAddress(st.Name, n), Type: TypeRun, Stage: st, Step: step})
			}
			n++
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// TargetPlatforms are the platforms cfg's targets are built for: its own
// target platform and every platform an image or artifact declares,
// sorted. `kiln build --platform` may ask for others; the lock pins
// what build.hcl declares.
func TargetPlatforms(cfg *lang.Config) []string {
	set := map[string]bool{}
	if cfg.TargetPlatform != "" {
		set[cfg.TargetPlatform] = true
	}
	for _, i := range cfg.Images {
		for _, p := range i.Platforms {
			set[p] = true
		}
	}
	for _, a := range cfg.Artifacts {
		for _, p := range a.Platforms {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// debArches are the architectures deb source s has in cfg evaluated for
// each target platform, when there is more than one. A platform whose
// evaluation fails adds nothing: compiling for it reports the error.
func debArches(cfg *lang.Config, s *lang.Source) []string {
	set := map[string]bool{s.Architecture: true}
	for _, p := range TargetPlatforms(cfg) {
		pc, diags := cfg.ForPlatform(p)
		if diags.HasErrors() || pc == nil {
			continue
		}
		for _, o := range pc.Sources {
			if o.Type == s.Type && o.Name == s.Name && o.Architecture != "" {
				set[o.Architecture] = true
			}
		}
	}
	if len(set) < 2 {
		return nil
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func declaredPlatforms(s *lang.Source, def string) []string {
	ps := s.Platforms
	if len(ps) == 0 && def != "" {
		ps = []string{def}
	}
	if len(ps) == 0 {
		return nil
	}
	out := append([]string(nil), ps...)
	sort.Strings(out)
	return out
}

// Matches reports whether e still answers in's request: same type, same
// ref/url/path/step, and for images the same set of platforms. An entry
// that does not match is stale: `kiln lock` re-resolves it.
func (in *Input) Matches(e *Entry) bool {
	if e == nil || e.Type != in.Type {
		return false
	}
	k := kinds[in.Type]
	return k != nil && k.matches(in, e)
}

// Pin answers the compiler's question: what is src pinned to, for the given
// platform. image and oci-layout: that platform's manifest digest (the
// index digest when platform is empty); http: "sha256:<hex>"; git: the
// commit; deb: the DebManifest of the closure (each kind's pin method).
// local sources are never locked: ok with an empty pin. ok is false when
// the lock has no entry or the entry no longer matches src (stale); the
// build then fails naming `kiln lock`.
func (l *Lock) Pin(src *lang.Source, platform string) (pin string, ok bool) {
	if src.Type == "local" {
		return "", true
	}
	k := kinds[src.Type]
	e := l.Entries[src.Address()]
	if k == nil || src.Type == TypeRun || e == nil || e.Type != src.Type {
		return "", false
	}
	// The declared platform set is checked by Check; here the one the
	// compiler needs is enough, so in has no Platforms.
	in := &Input{Address: src.Address(), Type: src.Type, Source: src}
	if src.Type == TypeDeb {
		// The entry of the architecture this evaluation of build.hcl
		// asks for: one source may be locked for several (Entry.Others).
		if e = e.ForArch(src.Architecture); e == nil {
			return "", false
		}
	}
	if !k.matches(in, e) {
		return "", false
	}
	return k.pin(e, platform)
}

// FixedOutput returns the pinned output hash of the fixed-output run step
// at address (see RunAddress). It does not check that the step is unchanged:
// FixedOutputFor does.
func (l *Lock) FixedOutput(address string) (hash string, ok bool) {
	e := l.Entries[address]
	if e == nil || e.Type != TypeRun {
		return "", false
	}
	return e.OutputHash, true
}

// FixedOutputFor is FixedOutput for a step the compiler holds: ok is false
// when the step's declaration changed since it was locked.
func (l *Lock) FixedOutputFor(stage *lang.Stage, step *lang.Step, address string) (hash string, ok bool) {
	e := l.Entries[address]
	if e == nil || e.Type != TypeRun || e.Step != StepDigest(stage, step) {
		return "", false
	}
	return e.OutputHash, true
}

// Check compares the lock with cfg without any network access: inputs
// missing from the lock (Added, with a nil New), entries whose request
// changed (Stale), and entries for inputs build.hcl no longer has
// (Removed). Empty means the lock is complete and current: what
// `kiln lock --check` and `kiln build --locked` need.
func Check(cfg *lang.Config, l *Lock) []Change {
	var out []Change
	want := map[string]bool{}
	for _, in := range Inputs(cfg) {
		want[in.Address] = true
		e := l.Entries[in.Address]
		switch {
		case e == nil:
			out = append(out, Change{Address: in.Address, Kind: Missing, Input: in})
		case !in.Matches(e):
			out = append(out, Change{Address: in.Address, Kind: Stale, Old: e, Input: in})
		}
	}
	for _, a := range l.Addresses() {
		if !want[a] {
			out = append(out, Change{Address: a, Kind: Removed, Old: l.Entries[a]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}
