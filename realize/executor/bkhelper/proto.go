// Package bkhelper is kiln's side of kiln-buildkit, the helper binary
// that holds BuildKit's client, and the protocol between the two.
//
// BuildKit's client brings gRPC, protobuf descriptors, OpenTelemetry and
// containerd's API with it, and Go initialises every linked package when
// a process starts, used or not: in the kiln binary they were about half
// of all package initialisation and 18 MB of its 47, paid by every `kiln
// version` and no-op build. Go has no lazy import, so the client lives in
// a second binary (cmd/kiln-buildkit) that kiln starts only for a build
// with --buildkit (at the first step that needs a daemon) or for `kiln
// llb`. This package must never import BuildKit: `go list -deps
// ./cmd/kiln` is checked for it (cmd/kiln's TestNoBuildKitClientInKiln).
//
// The protocol runs over the helper's stdin and stdout: frames of a
// 4-byte big-endian length and a JSON message. kiln says hello first
// (protocol number and build identity, the daemons, the TLS directory,
// whether there is a local fallback) and the helper answers with its
// own; then kiln sends requests (prepare, exec, file, llb), each with an
// id of its own, and may send several before the first answer: steps run
// concurrently. The helper answers each request with one "done" message
// of the same id, and streams a step's output ("stdout", "stderr") and
// the pool's warnings ("warn") before it. "cancel" ends a request's
// context; its "done" still follows, once the helper has cleaned up
// (unmounted its views), so that Exec returns with nothing of the run
// left, as the executor.Executor contract says. The helper exits when
// its stdin closes, after cancelling what runs. Paths are this machine's:
// layers, Upper and Scratch are passed as paths, never as contents.
package bkhelper

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/realize/executor"
)

// Proto is the protocol's number: change it with any change to the
// messages' meaning.
const Proto = 1

// Message kinds.
const (
	KindHello   = "hello"
	KindPrepare = "prepare"
	KindExec    = "exec"
	KindFile    = "file"
	KindLLB     = "llb"
	KindCancel  = "cancel"
	KindDone    = "done"
	KindStdout  = "stdout"
	KindStderr  = "stderr"
	KindWarn    = "warn"
)

// Msg is one frame's message. Only the fields of its kind are set.
type Msg struct {
	Kind string `json:"k"`
	// ID ties a request to its output and its answer (0: none).
	ID uint64 `json:"id,omitempty"`

	Hello *Hello             `json:"hello,omitempty"`
	Spec  *executor.Spec     `json:"spec,omitempty"`
	File  *executor.FileSpec `json:"file,omitempty"`
	LLB   *LLBRequest        `json:"llb,omitempty"`
	Res   *executor.Result   `json:"res,omitempty"`
	Data  []byte             `json:"data,omitempty"`
	Text  string             `json:"text,omitempty"`
	Err   string             `json:"err,omitempty"`
	// Fallback answers a prepare or exec that no daemon is left for
	// and kiln has a local fallback: kiln prepares, or runs the step
	// in, its own sandbox (which re-executes kiln itself as the
	// container's init, so it cannot run in the helper).
	Fallback bool `json:"fallback,omitempty"`
	// RunLocally answers a file step the helper declines
	// (executor.ErrRunLocally).
	RunLocally bool `json:"local,omitempty"`
	// Locals are an llb answer's local sources, for buildctl --local.
	Locals []Local `json:"locals,omitempty"`
}

// Hello opens the conversation, from both sides.
type Hello struct {
	Proto int    `json:"proto"`
	Build string `json:"build"`
	// Path is the sender's executable, for the mismatch error.
	Path string `json:"path,omitempty"`
	// The daemons and their TLS files (kiln's hello only).
	Addrs    []string `json:"addrs,omitempty"`
	TLSDir   string   `json:"tlsdir,omitempty"`
	Fallback bool     `json:"fallback,omitempty"`
}

// LLBRequest is what llbgraph.Translate needs of a compiled graph: the
// closure of Root, each derivation as its canonical JSON (the hashed
// fields) plus its display name, and the source derivations' layer
// directories and image Env, already fetched into the store by kiln.
type LLBRequest struct {
	Root     digest.Digest                 `json:"root"`
	Platform string                        `json:"platform"`
	Nodes    map[digest.Digest]Node        `json:"nodes"`
	Sources  map[digest.Digest]SourceLayer `json:"sources"`
}

// Node is one derivation: Derivation is compiler.Derivation's JSON,
// which leaves out the unhashed fields, so Name travels beside it.
type Node struct {
	Name       string          `json:"name"`
	Derivation json.RawMessage `json:"drv"`
}

// SourceLayer is a fetched source: its layers' directories, bottom
// first, and an image's config Env.
type SourceLayer struct {
	Dirs []string `json:"dirs"`
	Env  []string `json:"env,omitempty"`
}

// Local is one local source of an LLB definition.
type Local struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
}

// maxFrame bounds what a peer can make this process allocate: an llb
// request of a large graph is the biggest message.
const maxFrame = 1 << 30

// conn reads and writes frames; writes are safe from several goroutines.
type conn struct {
	r  *bufio.Reader
	mu sync.Mutex
	w  io.Writer
}

func newConn(r io.Reader, w io.Writer) *conn {
	return &conn{r: bufio.NewReaderSize(r, 64<<10), w: w}
}

func (c *conn) send(m *Msg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	frame := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(frame, uint32(len(b)))
	frame = append(frame, b...)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err = c.w.Write(frame)
	return err
}

var errFrame = errors.New("malformed kiln-buildkit message")

func (c *conn) recv() (*Msg, error) {
	var n [4]byte
	if _, err := io.ReadFull(c.r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return nil, errFrame
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(c.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	m := &Msg{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: %v", errFrame, err)
	}
	return m, nil
}

// BuildID identifies the binary's build: the main module's version and,
// when the go command stamped them, the VCS revision and whether the
// tree was modified. kiln and kiln-buildkit built from the same checkout
// have the same one. It is empty where nothing was stamped (a test
// binary, -buildvcs=false): the handshake then compares Proto alone.
func BuildID() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return bi.Main.Path + "@" + bi.Main.Version + " " + rev + modified
}

// checkHello says whether the two ends were built together.
func checkHello(kiln, helper *Hello) error {
	if kiln.Proto == helper.Proto && (kiln.Build == "" || helper.Build == "" || kiln.Build == helper.Build) {
		return nil
	}
	return fmt.Errorf("%s (protocol %d, build %s) was not built with %s (protocol %d, build %s): build both from the same checkout (go build -o DIR ./cmd/kiln-buildkit, next to kiln; or go install ./cmd/...)",
		orUnknown(helper.Path, "kiln-buildkit"), helper.Proto, orUnknown(helper.Build, "unstamped"),
		orUnknown(kiln.Path, "kiln"), kiln.Proto, orUnknown(kiln.Build, "unstamped"))
}

func orUnknown(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
