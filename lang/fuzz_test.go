package lang

import (
	"testing"
)

// FuzzLoad parses and evaluates arbitrary bytes as build.hcl: it must
// never panic, and a failed load must say why.
//
// Run it with -fuzzminimizetime 0: hcl and cty carry so much coverage that
// almost every input is new, and minimizing each one stalls the workers
// (a few execs a minute instead of hundreds a second).
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`stage "a" {
  from = "scratch"
  run {
    command = ["true"]
  }
}`))
	f.Add([]byte(`locals {
  a = local.b
  b = "${local.a}"
}`))
	// The Dockerfile-parity attributes: stage and image shell, chown by
	// name, mount "ssh", the healthcheck block and onbuild.
	f.Add([]byte(`stage "a" {
  from  = "scratch"
  shell = ["/bin/bash", "-c"]
  file {
    path    = "/f"
    content = "x"
    chown   = "app:staff"
  }
  run {
    shell = "true"
    mount "ssh" {
      id       = "default"
      required = false
    }
  }
}
image "i" {
  from    = stage.a
  shell   = ["/bin/sh", "-c"]
  onbuild = ["RUN true"]
  healthcheck {
    test     = ["CMD", "true"]
    interval = "30s"
    retries  = 3
  }
}`))
	// Loading never writes, so one folder serves every input.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		l := NewLoader(Options{Vars: map[string]string{"v": "1"}, Environ: []string{"KILN_VAR_w=[1]"}})
		cfg, diags := l.load(src, "build.hcl", dir)
		if cfg == nil && !diags.HasErrors() {
			t.Fatal("no Config and no error")
		}
		if cfg != nil && diags.HasErrors() {
			t.Fatal("a Config despite errors")
		}
		_ = renderDiags(l.Files(), diags)
	})
}
