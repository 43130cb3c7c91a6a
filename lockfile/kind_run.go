package lockfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/lang"
)

// TypeRun is a fixed-output run step: step identifies what it runs
// (StepDigest), output_hash is what its output must be.
const TypeRun = "run"

type runKind struct{}

var _ kind = runKind{}

func (runKind) attrs() []attrSpec {
	return []attrSpec{
		{name: "step", check: checkDigest, str: fStep},
		{name: "output_hash", check: checkDigest, str: fOutputHash},
	}
}

func (runKind) matches(in *Input, e *Entry) bool { return e.Step == StepDigest(in.Stage, in.Step) }

// A run step is not a source: the compiler asks FixedOutputFor, not Pin.
func (runKind) pin(*Entry, string) (string, bool) { return "", false }

func (runKind) request(in *Input) string { return "step " + short(StepDigest(in.Stage, in.Step)) }

func (runKind) entryRequest(e *Entry) string { return "step " + short(e.Step) }

func (runKind) summary(e *Entry) string { return short(e.OutputHash) }

// StepDigest identifies what a fixed-output run step asks for: its command,
// environment, working directory, user, network and mounts, with the
// stage's defaults applied. Changing any of them makes the pinned output
// hash stale; changing the step's inputs does not, as with Nix fixed-output
// derivations, since the hash states what the output must be.
func StepDigest(stage *lang.Stage, step *lang.Step) string {
	sum := sha256.Sum256(StepRequest(stage, step))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// StepRequest is what StepDigest hashes. The lock keeps only the digest:
// kiln keeps the request itself in its store, so that a stale pin can be
// explained with StepChanges.
func StepRequest(stage *lang.Stage, step *lang.Step) []byte {
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
	rec := stepRequest{
		Args: step.Args, Shell: step.Shell, Env: env,
		Workdir: pick(step.Workdir, stage.Workdir),
		User:    pick(step.User, stage.User),
		Network: pick(step.Network, stage.Network),
	}
	for _, m := range step.Mounts {
		rec.Mounts = append(rec.Mounts, stepMount{
			Type: m.Type, Target: m.Target, From: m.From.Address(), Source: m.Source, ID: m.ID,
			Sharing: m.Sharing, Env: m.Env, Mode: m.Mode, ReadWrite: m.ReadWrite, Required: m.Required, SizeBytes: m.SizeBytes,
		})
	}
	b, err := json.Marshal(rec)
	if err != nil {
		// Only strings, bools and ints: Marshal cannot fail.
		panic(err)
	}
	return b
}

// stepRequest and stepMount are frozen: their JSON encoding is what
// StepDigest hashes, so a renamed or reordered field makes every pinned
// run step stale.
type stepRequest struct {
	Args    []string
	Shell   string
	Env     map[string]string
	Workdir string
	User    string
	Network string
	Mounts  []stepMount
}

type stepMount struct {
	Type, Target, From, Source, ID, Sharing, Env, Mode string
	ReadWrite, Required                                bool
	SizeBytes                                          int64
}

// StepChanges says, one line each in build.hcl's words, how the step
// request new (StepRequest) differs from old.
func StepChanges(old, new []byte) ([]string, error) {
	var o, n stepRequest
	if err := json.Unmarshal(old, &o); err != nil {
		return nil, fmt.Errorf("reading the locked step: %w", err)
	}
	if err := json.Unmarshal(new, &n); err != nil {
		return nil, fmt.Errorf("reading the step: %w", err)
	}
	var out []string
	changed := func(what string, a, b any) {
		out = append(out, fmt.Sprintf("%s: %s -> %s", what, quote(a), quote(b)))
	}
	if !slices.Equal(o.Args, n.Args) {
		changed("command", o.Args, n.Args)
	}
	for _, f := range []struct{ name, a, b string }{
		{"shell", o.Shell, n.Shell},
		{"workdir", o.Workdir, n.Workdir},
		{"user", o.User, n.User},
		{"network", o.Network, n.Network},
	} {
		if f.a != f.b {
			changed(f.name, f.a, f.b)
		}
	}
	for _, k := range unionKeys(o.Env, n.Env) {
		a, inOld := o.Env[k]
		b, inNew := n.Env[k]
		switch {
		case !inOld:
			out = append(out, fmt.Sprintf("env %s: added %s", k, quote(b)))
		case !inNew:
			out = append(out, fmt.Sprintf("env %s: removed (was %s)", k, quote(a)))
		case a != b:
			changed("env "+k, a, b)
		}
	}
	if !slices.Equal(o.Mounts, n.Mounts) {
		changed("mounts", mountStrings(o.Mounts), mountStrings(n.Mounts))
	}
	return out, nil
}

// mountStrings shows each mount as its type, target and the attributes
// it sets.
func mountStrings(ms []stepMount) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		s := m.Type + " " + m.Target
		for _, a := range []struct{ k, v string }{
			{"from", m.From}, {"source", m.Source}, {"id", m.ID}, {"sharing", m.Sharing}, {"env", m.Env}, {"mode", m.Mode},
		} {
			if a.v != "" && !(a.k == "from" && m.Type != "input") {
				s += " " + a.k + "=" + a.v
			}
		}
		if m.ReadWrite {
			s += " rw"
		}
		if m.Required {
			s += " required"
		}
		if m.SizeBytes != 0 {
			s += " size=" + strconv.FormatInt(m.SizeBytes, 10)
		}
		out[i] = s
	}
	return out
}

// quote shows a value as build.hcl spells it: one line, escaped.
func quote(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func unionKeys(a, b map[string]string) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
