package main

import (
	"net"
	"net/http"

	"github.com/rogpeppe/go-internal/testscript"
)

// scriptCmds are the commands scripts have besides testscript's own.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"serve": cmdServe,
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
