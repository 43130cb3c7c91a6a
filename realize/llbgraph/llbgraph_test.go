package llbgraph

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
)

// TestEachKindBecomesItsOp: sources become local sources named for the
// store, exec a Run with no network and its mounts, file a File, merge a
// Merge and diff a Diff; a secret is named by id only.
func TestEachKindBecomesItsOp(t *testing.T) {
	g := &compiler.Graph{Nodes: map[digest.Digest]*compiler.Derivation{}}
	add := func(d *compiler.Derivation) digest.Digest {
		dg, err := d.Digest()
		if err != nil {
			t.Fatal(err)
		}
		g.Nodes[dg] = d
		return dg
	}
	src := add(&compiler.Derivation{Kind: compiler.KindSource, Name: "src", Source: &compiler.SourceOp{Type: "local", Identifier: "rootfs"}})
	file := add(&compiler.Derivation{Kind: compiler.KindFile, Name: "file", Inputs: []digest.Digest{src}, File: &compiler.FileOp{Base: 0, Actions: []compiler.FileAction{
		{Action: "mkdir", Path: "/w", Mode: 0o755, Parents: true},
		{Action: "mkfile", Path: "/w/a", Mode: 0o644, Data: "x"},
		{Action: "copy", Path: "/w/", Src: "/bin", SrcInput: 0, Mode: 0o755},
	}}})
	run := add(&compiler.Derivation{Kind: compiler.KindExec, Name: "run", Inputs: []digest.Digest{file}, Exec: &compiler.ExecOp{
		Args: []string{"sh", "-c", "make"}, Env: []string{"A=1"}, Cwd: "/w", Hostname: "kiln", Network: "none", Root: 0,
		Mounts: []compiler.Mount{
			{Type: "cache", Dest: "/c", Input: -1, CacheID: "go", Sharing: "locked"},
			{Type: "secret", Dest: "/run/s", Input: -1, SecretID: "tok", Mode: 0o400, Required: true},
			{Type: "tmpfs", Dest: "/tmp", Input: -1},
		}}})
	merge := add(&compiler.Derivation{Kind: compiler.KindMerge, Name: "merge", Inputs: []digest.Digest{src, run}, Merge: &compiler.MergeOp{}})
	diff := add(&compiler.Derivation{Kind: compiler.KindDiff, Name: "diff", Inputs: []digest.Digest{src, merge}, Diff: &compiler.DiffOp{}})

	st, locals, err := Translate(g, diff, func(d digest.Digest) ([]string, []string, error) {
		return []string{"/store/layers/" + d.Encoded()[:8]}, nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(locals) != 1 || !strings.HasPrefix(locals[0].Name, "kiln-src-"+src.Encoded()[:12]) || locals[0].Dir != "/store/layers/"+src.Encoded()[:8] {
		t.Fatalf("locals = %+v, want the one source's layer", locals)
	}
	def, err := st.Marshal(context.Background(), llb.LinuxAmd64)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, b := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(b); err != nil {
			t.Fatal(err)
		}
		switch o := op.Op.(type) {
		case *pb.Op_Source:
			kinds["source"]++
			if !strings.HasPrefix(o.Source.Identifier, "local://kiln-src-") {
				t.Errorf("source %s, want a local source", o.Source.Identifier)
			}
		case *pb.Op_Exec:
			kinds["exec"]++
			if o.Exec.Network != pb.NetMode_NONE {
				t.Errorf("exec network %v, want none", o.Exec.Network)
			}
			var cache, secret, tmpfs bool
			for _, m := range o.Exec.Mounts {
				switch m.MountType {
				case pb.MountType_CACHE:
					cache = m.CacheOpt.ID == "go" && m.CacheOpt.Sharing == pb.CacheSharingOpt_LOCKED
				case pb.MountType_SECRET:
					secret = m.SecretOpt.ID == "tok" && !m.SecretOpt.Optional
				case pb.MountType_TMPFS:
					tmpfs = true
				}
			}
			if !cache || !secret || !tmpfs {
				t.Errorf("exec mounts %v: cache %v secret %v tmpfs %v", o.Exec.Mounts, cache, secret, tmpfs)
			}
		case *pb.Op_File:
			kinds["file"]++
			if len(o.File.Actions) != 3 {
				t.Errorf("file op has %d actions, want 3", len(o.File.Actions))
			}
		case *pb.Op_Merge:
			kinds["merge"]++
		case *pb.Op_Diff:
			kinds["diff"]++
		}
	}
	for _, k := range []string{"source", "exec", "file", "merge", "diff"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s ops, want 1 (all: %v)", kinds[k], k, kinds)
		}
	}
}
