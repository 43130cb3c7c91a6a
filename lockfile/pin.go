package lockfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/kiln-build/kiln/internal/platform"
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
		if s.Type == TypeImage || s.Type == TypeOCILayout {
			in.Platforms = declaredPlatforms(s, cfg.Project.Platform)
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
	if in.Type == TypeRun {
		return e.Step == StepDigest(in.Stage, in.Step)
	}
	s := in.Source
	switch in.Type {
	case TypeImage:
		return e.Ref == s.Ref && platformsMatch(e, in.Platforms)
	case TypeHTTP:
		return e.URL == s.URL
	case TypeGit:
		return e.URL == s.URL && e.Ref == s.GitRef
	case TypeOCILayout:
		return e.Path == s.Path && e.Ref == s.Ref && platformsMatch(e, in.Platforms)
	case TypeDeb:
		return e.Suite == s.Suite && e.Architecture == s.Architecture &&
			strings.Join(e.Packages, "\n") == strings.Join(s.Packages, "\n") && len(e.Debs) > 0
	}
	return false
}

// DebManifest is the pin of a deb entry as the compiler records it: one
// line per package, "NAME VERSION ARCHITECTURE FILENAME SHA256 SIZE",
// sorted by name, each ending in a newline. realize/source parses it back.
func DebManifest(debs []Deb) string {
	sorted := append([]Deb(nil), debs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var b strings.Builder
	for _, d := range sorted {
		fmt.Fprintf(&b, "%s %s %s %s %s %d\n", d.Name, d.Version, d.Architecture, d.Filename, d.SHA256, d.Size)
	}
	return b.String()
}

func platformsMatch(e *Entry, want []string) bool {
	if want == nil {
		return true
	}
	if len(e.Platforms) == 0 {
		// A single-manifest oci-layout entry without a recorded platform
		// serves whichever platform is asked.
		return e.Type == TypeOCILayout
	}
	if len(e.Platforms) != len(want) {
		return false
	}
	for _, p := range want {
		if _, ok := e.Platforms[p]; !ok {
			return false
		}
	}
	return true
}

// Pin answers the compiler's question: what is src pinned to, for the given
// platform. image and oci-layout: that platform's manifest digest (the
// index digest when platform is empty); http: "sha256:<hex>"; git: the
// commit; deb: the DebManifest of the closure. local sources are never locked: ok with an empty pin. ok is false
// when the lock has no entry or the entry no longer matches src (stale);
// the build then fails naming `kiln lock`.
func (l *Lock) Pin(src *lang.Source, platform string) (pin string, ok bool) {
	if src.Type == "local" {
		return "", true
	}
	e := l.Entries[src.Address()]
	if e == nil || e.Type != src.Type {
		return "", false
	}
	in := &Input{Address: src.Address(), Type: src.Type, Source: src}
	switch src.Type {
	case TypeImage, TypeOCILayout:
		// The declared platform set is checked by Check; here the one the
		// compiler needs is enough.
		if !in.Matches(e) {
			return "", false
		}
		if platform == "" {
			return e.Digest, true
		}
		if len(e.Platforms) == 0 {
			return e.Digest, src.Type == TypeOCILayout
		}
		return platformPin(e.Platforms, platform)
	case TypeHTTP:
		if !in.Matches(e) {
			return "", false
		}
		return "sha256:" + e.SHA256, true
	case TypeGit:
		if !in.Matches(e) {
			return "", false
		}
		return e.Commit, true
	case TypeDeb:
		if !in.Matches(e) {
			return "", false
		}
		return DebManifest(e.Debs), true
	}
	return "", false
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

// StepDigest identifies what a fixed-output run step asks for: its command,
// environment, working directory, user, network and mounts, with the
// stage's defaults applied. Changing any of them makes the pinned output
// hash stale; changing the step's inputs does not, as with Nix fixed-output
// derivations, since the hash states what the output must be.
func StepDigest(stage *lang.Stage, step *lang.Step) string {
	type mount struct {
		Type, Target, From, Source, ID, Sharing, Env, Mode string
		ReadWrite, Required                                bool
		SizeBytes                                          int64
	}
	env := map[string]string{}
	for k, v := range stage.Env {
		env[k] = v
	}
	for k, v := range step.Env {
		env[k] = v
	}
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	rec := struct {
		Args    []string
		Shell   string
		Env     map[string]string
		Workdir string
		User    string
		Network string
		Mounts  []mount
	}{
		Args: step.Args, Shell: step.Shell, Env: env,
		Workdir: pick(step.Workdir, stage.Workdir),
		User:    pick(step.User, stage.User),
		Network: pick(step.Network, stage.Network),
	}
	for _, m := range step.Mounts {
		rec.Mounts = append(rec.Mounts, mount{
			Type: m.Type, Target: m.Target, From: m.From.Address(), Source: m.Source, ID: m.ID,
			Sharing: m.Sharing, Env: m.Env, Mode: m.Mode, ReadWrite: m.ReadWrite, Required: m.Required, SizeBytes: m.SizeBytes,
		})
	}
	b, err := json.Marshal(rec)
	if err != nil {
		// Only strings, bools and ints: Marshal cannot fail.
		panic(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
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

// platformPin finds the manifest the lock resolved for want. The lock's
// keys are the source's platforms as build.hcl spells them, and a stage may
// spell one of them another way ("linux/arm64" for "linux/arm64/v8"): the
// same platform gets the same manifest, as resolve chose it.
func platformPin(ps map[string]string, want string) (string, bool) {
	if d, ok := ps[want]; ok {
		return d, true
	}
	w, err := platform.Parse(want)
	if err != nil {
		return "", false
	}
	keys := make([]string, 0, len(ps))
	for k := range ps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if h, err := platform.Parse(k); err == nil && platform.Match(w, h) {
			return ps[k], true
		}
	}
	return "", false
}
