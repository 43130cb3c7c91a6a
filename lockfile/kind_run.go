package lockfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

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
