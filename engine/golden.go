package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/kiln-build/kiln/golden"
	"github.com/kiln-build/kiln/lang"
)

// Recorder records the output identities of a build's targets without
// writing any output: images assembled as kiln build would export them,
// artifacts' tars hashed as they stream. withFiles says which artifacts
// get per-file digests. Session.Record is the real one; the golden
// methods use it when given nil.
type Recorder func(ctx context.Context, res *Result, withFiles func(addr string) bool) (*golden.File, error)

// ReadGolden reads a golden file; a missing one is nil, nil when
// missingOK.
func ReadGolden(path string, missingOK bool) (*golden.File, error) {
	gf, err := golden.Read(path)
	if errors.Is(err, golden.ErrNotExist) {
		if missingOK {
			return nil, nil
		}
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w\nfix %s or rewrite it with 'kiln golden update'", err, path)
	}
	return gf, nil
}

// GoldenCheck builds the targets (none: those gf records) and compares
// their outputs with gf, read from path. It returns the differences with
// an error when there are any, and the number of targets compared.
func (s *Session) GoldenCheck(ctx context.Context, gf *golden.File, path string, targets []string, record Recorder) ([]golden.Change, int, error) {
	if stale := StaleTargets(s.cfg, path, gf); len(stale) > 0 {
		return nil, 0, fmt.Errorf("%s\nrun 'kiln golden update' to drop it", strings.Join(stale, "\n"))
	}
	if len(targets) == 0 {
		targets = gf.Addresses()
		if len(targets) == 0 {
			return nil, 0, fmt.Errorf("%s records no targets: run 'kiln golden update TARGET...'", path)
		}
	}
	// Record files only where the golden file does, so a check compares
	// like with like.
	withFiles := func(addr string) bool { return gf.Targets[addr] != nil && gf.Targets[addr].Files != nil }
	got, res, err := s.recordGolden(ctx, targets, withFiles, record)
	if err != nil {
		return nil, 0, err
	}
	var addrs []string
	for _, t := range res.Graph.Targets {
		addrs = append(addrs, t.Address)
	}
	changes := golden.Diff(gf, got, addrs)
	if len(changes) > 0 {
		return changes, len(addrs), fmt.Errorf("%s does not match the build (%d difference(s)): if the change is intended, run 'kiln golden update' and commit the result", path, len(changes))
	}
	return nil, len(addrs), nil
}

// GoldenUpdate builds the targets and (re)records them in the golden file
// at path, whose current content is old (nil: none). Without targets it
// records those old has, or the default targets for a new file; files
// records every artifact's per-file digests. It returns the changes.
func (s *Session) GoldenUpdate(ctx context.Context, old *golden.File, path string, targets []string, files bool, record Recorder) ([]golden.Change, error) {
	next := golden.New()
	if old != nil {
		for a, t := range old.Targets {
			if HasTarget(s.cfg, t.Kind, t.Name) {
				next.Targets[a] = t // kept; one no longer built is dropped, and Diff reports it
			}
		}
		if len(targets) == 0 {
			for _, a := range old.Addresses() {
				if t := old.Targets[a]; HasTarget(s.cfg, t.Kind, t.Name) {
					targets = append(targets, a)
				}
			}
		}
	}
	withFiles := func(addr string) bool {
		return files || old != nil && old.Targets[addr] != nil && old.Targets[addr].Files != nil
	}
	got, _, err := s.recordGolden(ctx, targets, withFiles, record)
	if err != nil {
		return nil, err
	}
	for a, t := range got.Targets {
		next.Targets[a] = t
	}
	changes := golden.Diff(old, next, nil)
	cur, _ := os.ReadFile(path)
	if !bytes.Equal(cur, next.Bytes()) {
		if err := golden.WriteFile(path, next); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

func (s *Session) recordGolden(ctx context.Context, targets []string, withFiles func(string) bool, record Recorder) (*golden.File, *Result, error) {
	if record == nil {
		record = s.Record
	}
	res, err := s.Build(ctx, targets)
	if err != nil {
		return nil, nil, err
	}
	gf, err := record(ctx, res, withFiles)
	if err != nil {
		return nil, nil, err
	}
	return gf, res, nil
}

// StaleTargets lists the targets gf (read from path) records that cfg no
// longer has, as file:line:col: errors.
func StaleTargets(cfg *lang.Config, path string, gf *golden.File) []string {
	var out []string
	for _, a := range gf.Addresses() {
		t := gf.Targets[a]
		if !HasTarget(cfg, t.Kind, t.Name) {
			out = append(out, fmt.Sprintf("%s:%d:%d: %s is recorded but %s has no such target", path, t.DefRange.Start.Line, t.DefRange.Start.Column, a, cfg.Filename))
		}
	}
	return out
}

// HasTarget reports whether cfg has an image or artifact named name.
func HasTarget(cfg *lang.Config, kind, name string) bool {
	switch kind {
	case "image":
		return slices.ContainsFunc(cfg.Images, func(i *lang.Image) bool { return i.Name == name })
	case "artifact":
		return slices.ContainsFunc(cfg.Artifacts, func(a *lang.Artifact) bool { return a.Name == name })
	}
	return false
}
