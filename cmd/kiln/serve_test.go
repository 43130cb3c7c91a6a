package main

import (
	"net"
	"net/http"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kiln-build/kiln/internal/testutil/buildkitd"
)

// scriptCmds are the commands scripts have besides testscript's own.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"serve":           cmdServe,
	"buildkit-helper": cmdBuildKitHelper,
}

// cmdBuildKitHelper builds kiln-buildkit (once per test process) and
// sets $KILN_BUILDKIT_HELPER to it, for scripts that reach BuildKit:
// buildkit-helper.
func cmdBuildKitHelper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: buildkit-helper")
	}
	p, err := buildkitd.BuildHelper()
	ts.Check(err)
	ts.Setenv("KILN_BUILDKIT_HELPER", p)
}

// cmdServe serves a folder over http on 127.0.0.1 until the script ends,
// setting $SERVER to its base URL: serve DIR. A bare git repository in it
// (after git update-server-info) is a git remote over http, as a forge
// would serve one.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: serve DIR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{Handler: http.FileServer(http.Dir(ts.MkAbs(args[0])))}
	go srv.Serve(ln)
	ts.Defer(func() { srv.Close() })
	ts.Setenv("SERVER", "http://"+ln.Addr().String())
}
