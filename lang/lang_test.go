package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// loadSrc writes files into a fresh folder and loads its build.hcl.
func loadSrc(t *testing.T, opts Options, files map[string]string) (*Config, hcl.Diagnostics, *Loader, string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		full := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := NewLoader(opts)
	name := "build.hcl"
	if _, ok := files["build.hcl.json"]; ok {
		name = "build.hcl.json"
	}
	cfg, diags := l.Load(filepath.Join(dir, name))
	return cfg, diags, l, dir
}

func mustLoad(t *testing.T, opts Options, files map[string]string) (*Config, string) {
	t.Helper()
	cfg, diags, l, dir := loadSrc(t, opts, files)
	if diags.HasErrors() {
		t.Fatalf("Load: %s", renderDiags(l.Files(), diags))
	}
	return cfg, dir
}

var ignoreRanges = cmp.Options{cmpopts.IgnoreTypes(hcl.Range{}), cmpopts.IgnoreUnexported(Config{}), cmpopts.IgnoreFields(Config{}, "TargetPlatform")}

const baseImage = `
source "image" "base" {
  ref       = "docker.io/library/alpine:3.20"
  platforms = ["linux/amd64", "linux/arm64"]
}
`

func TestVocabulary(t *testing.T) {
	epoch := int64(1700000000)
	level := 19
	stageRef := func(n string) Ref { return Ref{Kind: "stage", Name: n} }
	srcRef := func(typ, n string) Ref { return Ref{Kind: "source", Type: typ, Name: n} }
	base := &Source{Type: "image", Name: "base", Ref: "docker.io/library/alpine:3.20", Platforms: []string{"linux/amd64", "linux/arm64"}}
	tests := []struct {
		name string
		src  string
		want Config
	}{{
		name: "kiln",
		src: `kiln {
  source_date_epoch = 1700000000
  platform          = "linux/arm64/v8"
  default           = ["app", "stage.s"]
}
stage "s" {}
image "app" {}`,
		want: Config{
			Project: Project{SourceDateEpoch: &epoch, Platform: "linux/arm64/v8", Default: []string{"app", "stage.s"}},
			Stages:  []*Stage{{Name: "s", Network: "none"}},
			Images:  []*Image{{Name: "app"}},
		},
	}, {
		name: "sources",
		src: baseImage + `
source "http" "tool" {
  url  = "https://example.com/dl/tool-1.2.tar.gz?x=1"
  mode = "0755"
}
source "git" "repo" {
  url          = "https://example.com/repo.git"
  ref          = "v1.2.3"
  keep_git_dir = true
}
source "local" "ctx" {}
source "local" "docs" {
  path    = "./docs/"
  include = ["*.md"]
  exclude = ["drafts/"]
}
source "oci-layout" "saved" {
  path = "layouts/app"
  ref  = "v1"
}
source "deb" "tools" {
  packages     = ["busybox-static", "ca-certificates"]
  suite        = "bookworm"
  architecture = "amd64"
  repository   = "https://deb.example.org/debian"
}`,
		want: Config{Sources: []*Source{
			base,
			{Type: "http", Name: "tool", URL: "https://example.com/dl/tool-1.2.tar.gz?x=1", Filename: "tool-1.2.tar.gz", Mode: 0o755},
			{Type: "git", Name: "repo", URL: "https://example.com/repo.git", GitRef: "v1.2.3", KeepGitDir: true},
			{Type: "local", Name: "ctx", Path: "."},
			{Type: "local", Name: "docs", Path: "docs", Include: []string{"*.md"}, Exclude: []string{"drafts/"}},
			{Type: "oci-layout", Name: "saved", Path: "layouts/app", Ref: "v1"},
			{Type: "deb", Name: "tools", Packages: []string{"busybox-static", "ca-certificates"}, Suite: "bookworm", Architecture: "amd64", Repository: "https://deb.example.org/debian"},
		}},
	}, {
		name: "http default mode and filename",
		src: `source "http" "f" {
  url      = "https://example.com/a/b.txt"
  filename = "c.txt"
}`,
		want: Config{Sources: []*Source{{Type: "http", Name: "f", URL: "https://example.com/a/b.txt", Filename: "c.txt", Mode: 0o644}}},
	}, {
		name: "stage with ordered steps",
		src: baseImage + `
source "local" "src" {}
stage "build" {
  from     = source.image.base
  platform = "linux/amd64"
  env      = { GOFLAGS = "-trimpath", N = 3 }
  workdir  = "/src"
  user     = "1000:1000"
  memory   = "1g"
  pids     = 512
  timeout  = "1h30m"

  copy {
    from  = source.local.src
    src   = "go.mod"
    dest  = "/src/"
    chown = "1000"
    chmod = "644"
  }
  env {
    CGO_ENABLED = "0"
  }
  workdir {
    path = "/src/cmd"
  }
  user {
    name = "root"
  }
  run {
    command      = ["go", "mod", "download"]
    env          = { GOPROXY = "https://proxy.example.com" }
    workdir      = "/src"
    user         = "builder"
    network      = "host"
    fixed_output = true
    memory       = "512m"
    pids         = 64
    timeout      = 90
    mount "cache" {
      target  = "/root/go/pkg/mod"
      sharing = "locked"
      mode    = "0700"
    }
    mount "input" {
      target    = "/in"
      from      = stage.gen
      source    = "/out"
      readwrite = true
    }
    mount "tmpfs" {
      target = "/tmp"
      size   = "64m"
    }
    mount "secret" {
      id       = "netrc"
      required = true
      mode     = "0400"
    }
    mount "secret" {
      id  = "token"
      env = "TOKEN"
    }
  }
  run {
    shell = "go build -o /out/app ./cmd/app"
  }
  mkdir {
    path    = "/out/etc"
    mode    = "0755"
    parents = true
  }
  file {
    path    = "/out/etc/app.conf"
    content = "port = 8080\n"
    mode    = "0600"
  }
  symlink {
    path   = "/out/bin"
    target = "/out/app"
  }
  remove {
    path = "/src/.git"
  }
}
stage "gen" {
  from = "scratch"
}`,
		want: Config{
			Sources: []*Source{base, {Type: "local", Name: "src", Path: "."}},
			Stages: []*Stage{{
				Name: "build", From: srcRef("image", "base"), Platform: "linux/amd64",
				Env: map[string]string{"GOFLAGS": "-trimpath", "N": "3"}, Workdir: "/src", User: "1000:1000", Network: "none",
				Limits: Limits{MemoryBytes: 1 << 30, Pids: 512, TimeoutSec: 5400},
				Steps: []*Step{
					{Kind: "copy", From: srcRef("local", "src"), Src: []string{"go.mod"}, Dest: "/src/", Chown: "1000:1000", Chmod: "0644"},
					{Kind: "env", Env: map[string]string{"CGO_ENABLED": "0"}},
					{Kind: "workdir", Workdir: "/src/cmd"},
					{Kind: "user", User: "root"},
					{Kind: "run", Args: []string{"go", "mod", "download"}, Env: map[string]string{"GOPROXY": "https://proxy.example.com"},
						Workdir: "/src", User: "builder", Network: "host", FixedOutput: true,
						Limits: Limits{MemoryBytes: 512 << 20, Pids: 64, TimeoutSec: 90},
						Mounts: []*Mount{
							{Type: "cache", Target: "/root/go/pkg/mod", ID: "/root/go/pkg/mod", Sharing: "locked", Mode: "0700"},
							{Type: "input", Target: "/in", From: stageRef("gen"), Source: "/out", ReadWrite: true},
							{Type: "tmpfs", Target: "/tmp", SizeBytes: 64 << 20},
							{Type: "secret", ID: "netrc", Target: "/run/secrets/netrc", Required: true, Mode: "0400"},
							{Type: "secret", ID: "token", Env: "TOKEN"},
						}},
					{Kind: "run", Shell: "go build -o /out/app ./cmd/app"},
					{Kind: "mkdir", Path: "/out/etc", Mode: "0755", Parents: true},
					{Kind: "file", Path: "/out/etc/app.conf", Content: "port = 8080\n", Mode: "0600"},
					{Kind: "symlink", Path: "/out/bin", Target: "/out/app"},
					{Kind: "remove", Path: "/src/.git"},
				},
			}, {Name: "gen", Network: "none"}},
		},
	}, {
		name: "copy src list",
		src: `stage "a" {}
stage "b" {
  copy {
    from = stage.a
    src  = ["/x", "/y/*"]
    dest = "/z/"
  }
}`,
		want: Config{Stages: []*Stage{{Name: "a", Network: "none"}, {Name: "b", Network: "none", Steps: []*Step{
			{Kind: "copy", From: stageRef("a"), Src: []string{"/x", "/y/*"}, Dest: "/z/"},
		}}}},
	}, {
		name: "image",
		src: `stage "rt" {}
image "app" {
  from              = stage.rt
  platforms         = ["linux/amd64"]
  entrypoint        = ["/app"]
  cmd               = ["serve", "--port", "8080"]
  env               = { PATH = "/bin" }
  workdir           = "/srv"
  user              = "65534"
  labels            = { "org.opencontainers.image.title" = "app" }
  annotations       = { "org.opencontainers.image.source" = "https://example.com/app" }
  expose            = [8080, "53/udp"]
  volumes           = ["/data"]
  stop_signal       = "SIGTERM"
  squash            = true
  compression       = "zstd"
  compression_level = 19
  output            = ["type=oci,dest=app.tar"]
  tags              = ["example.com/app:1"]
}`,
		want: Config{Stages: []*Stage{{Name: "rt", Network: "none"}}, Images: []*Image{{
			Name: "app", From: stageRef("rt"), Platforms: []string{"linux/amd64"}, Entrypoint: []string{"/app"},
			Cmd: []string{"serve", "--port", "8080"}, Env: map[string]string{"PATH": "/bin"}, Workdir: "/srv", User: "65534",
			Labels:      map[string]string{"org.opencontainers.image.title": "app"},
			Annotations: map[string]string{"org.opencontainers.image.source": "https://example.com/app"},
			Expose:      []string{"8080", "53/udp"}, Volumes: []string{"/data"}, StopSignal: "SIGTERM", Squash: true,
			Compression: "zstd", CompressionLevel: &level, Outputs: []string{"type=oci,dest=app.tar"}, Tags: []string{"example.com/app:1"},
		}}},
	}, {
		name: "artifacts and groups",
		src: `stage "b" {}
artifact "bin" {
  from   = stage.b
  path   = "/out/app"
  output = ["type=local,dest=dist"]
}
artifact "all" {
  from      = null
  platforms = ["linux/amd64", "linux/arm64"]
  paths     = ["/a", "/b"]
}
group "release" {
  targets = ["bin", "artifact.all", "group.ci"]
}
group "ci" {
  targets = ["bin"]
}`,
		want: Config{
			Stages: []*Stage{{Name: "b", Network: "none"}},
			Artifacts: []*Artifact{
				{Name: "bin", From: stageRef("b"), Paths: []string{"/out/app"}, Outputs: []string{"type=local,dest=dist"}},
				{Name: "all", Platforms: []string{"linux/amd64", "linux/arm64"}, Paths: []string{"/a", "/b"}},
			},
			Groups: []*Group{{Name: "release", Targets: []string{"bin", "artifact.all", "group.ci"}}, {Name: "ci", Targets: []string{"bin"}}},
		},
	}, {
		name: "variables locals functions",
		src: `variable "version" {
  type        = string
  default     = "1.2"
  description = "release"
}
variable "platforms" {
  type    = list(string)
  default = ["linux/amd64"]
}
locals {
  tag = "app:${var.version}"
}
locals {
  // declared after use, evaluated first
  tags = [local.tag, upper(local.tag), greet("x")]
  base = stage.base
}
function "greet" {
  params = [who]
  result = "hi ${who}"
}
stage "base" {}
image "app" {
  from      = local.base
  platforms = var.platforms
  tags      = local.tags
  labels    = { sum = sha256("a"), b64 = base64encode("kiln"), json = jsonencode({ a = 1 }) }
}`,
		want: Config{
			Variables: map[string]string{"version": "1.2", "platforms": `["linux/amd64"]`},
			Stages:    []*Stage{{Name: "base", Network: "none"}},
			Images: []*Image{{Name: "app", From: stageRef("base"), Platforms: []string{"linux/amd64"},
				Tags: []string{"app:1.2", "APP:1.2", "hi x"},
				Labels: map[string]string{
					"sum":  "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
					"b64":  "a2lsbg==",
					"json": `{"a":1}`,
				}}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, dir := mustLoad(t, Options{}, map[string]string{"build.hcl": tt.src})
			want := tt.want
			want.Dir, want.Filename = dir, "build.hcl"
			if want.Variables == nil {
				want.Variables = map[string]string{}
			}
			if diff := cmp.Diff(&want, got, ignoreRanges, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRanges(t *testing.T) {
	cfg, _ := mustLoad(t, Options{}, map[string]string{"build.hcl": "stage \"a\" {}\n\nstage \"b\" {\n  from = stage.a\n}\n"})
	r := cfg.Stages[1].From.Range
	if got := r.String(); !strings.HasSuffix(got, "build.hcl:4,10-17") {
		t.Errorf("From.Range = %s, want build.hcl:4,10-17", got)
	}
	if got := cfg.Stages[1].DeclRange.Start.Line; got != 3 {
		t.Errorf("DeclRange line = %d, want 3", got)
	}
	if !filepath.IsAbs(cfg.Dir) || cfg.Filename != "build.hcl" {
		t.Errorf("Dir, Filename = %q, %q; want absolute, build.hcl", cfg.Dir, cfg.Filename)
	}
}

func TestVariablePrecedence(t *testing.T) {
	build := `variable "v" {
  default = "default"
}
variable "n" {
  type    = number
  default = 1
}
variable "l" {
  type    = list(string)
  default = []
}`
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		want  map[string]string
	}{
		{name: "default", want: map[string]string{"v": "default", "n": "1", "l": "[]"}},
		{name: "auto files sorted", files: map[string]string{
			"a.kilnvars.hcl": "v = \"auto-a\"\nn = 2\n",
			"b.kilnvars.hcl": "v = \"auto-b\"\n",
		}, want: map[string]string{"v": "auto-b", "n": "2", "l": "[]"}},
		{name: "env over auto", files: map[string]string{"a.kilnvars.hcl": "v = \"auto\"\n"},
			opts: Options{Environ: []string{"KILN_VAR_v=env", "KILN_VAR_l=[\"x\", \"y\"]", "KILN_VAR_other=ignored", "HOME=/root"}},
			want: map[string]string{"v": "env", "n": "1", "l": `["x","y"]`}},
		{name: "var-file over env", files: map[string]string{"f1.hcl": "v = \"file1\"\nn = 5\n", "f2.json": `{"v": "file2"}`},
			opts: Options{Environ: []string{"KILN_VAR_v=env"}, VarFiles: []string{"f1.hcl", "f2.json"}},
			want: map[string]string{"v": "file2", "n": "5", "l": "[]"}},
		{name: "var over all", files: map[string]string{"a.kilnvars.hcl": "v = \"auto\"\n", "f.hcl": "v = \"file\"\n"},
			opts: Options{Environ: []string{"KILN_VAR_v=env"}, VarFiles: []string{"f.hcl"}, Vars: map[string]string{"v": "flag", "n": " 7 "}},
			want: map[string]string{"v": "flag", "n": "7", "l": "[]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"build.hcl": build}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := t.TempDir()
			for name, body := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			opts := tt.opts
			for i, f := range opts.VarFiles {
				opts.VarFiles[i] = filepath.Join(dir, f)
			}
			l := NewLoader(opts)
			cfg, diags := l.Load(filepath.Join(dir, "build.hcl"))
			if diags.HasErrors() {
				t.Fatal(renderDiags(l.Files(), diags))
			}
			if diff := cmp.Diff(tt.want, cfg.Variables); diff != "" {
				t.Errorf("Variables (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCycleMessage holds the full text of a three-stage cycle report in a
// golden file: every position is reported, each naming the whole cycle.
func TestCycleMessage(t *testing.T) {
	src := `stage "a" {
  from = stage.c
}

stage "b" {
  copy {
    from = stage.a
    src  = "/x"
    dest = "/x"
  }
}

stage "c" {
  run {
    shell = "true"
    mount "input" {
      target = "/b"
      from   = stage.b
    }
  }
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "build.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	l := NewLoader(Options{})
	cfg, diags := l.loadNamed(filepath.Join(dir, "build.hcl"), "build.hcl")
	if cfg != nil || len(diags) != 3 {
		t.Fatalf("got %d diagnostics, want 3 (one per position):\n%s", len(diags), renderDiags(l.Files(), diags))
	}
	got := renderDiags(l.Files(), diags)
	golden(t, filepath.Join("testdata", "cycle.golden"), got)
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestJSONSyntax(t *testing.T) {
	cfg, _ := mustLoad(t, Options{}, map[string]string{"build.hcl.json": `{
  "source": {"image": {"base": {"ref": "alpine:3.20"}}},
  "stage": {"s": {"from": "${source.image.base}", "workdir": "/w"}},
  "image": {"app": {"from": "${stage.s}", "cmd": ["/bin/sh"]}}
}`})
	if len(cfg.Stages) != 1 || cfg.Stages[0].From.Address() != "source.image.base" || cfg.Images[0].From.Address() != "stage.s" {
		t.Errorf("JSON config decoded wrongly: %+v %+v", cfg.Stages[0], cfg.Images[0])
	}
}

// TestAccumulates checks that independent errors are all reported in one
// load, not just the first.
func TestAccumulates(t *testing.T) {
	_, diags, _, _ := loadSrc(t, Options{}, map[string]string{"build.hcl": `stage "a" {
  from   = stage.nope
  memory = "lots"
}
stage "b" {
  timeout = "forever"
  bogus   = 1
}
group "g" {
  targets = ["missing"]
}`})
	want := []string{"Reference to undeclared stage", "Invalid memory", "Invalid timeout", "Unsupported argument", "Unknown target"}
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing diagnostic %q; got %q", w, got)
		}
	}
}

func TestFormat(t *testing.T) {
	out, diags := Format([]byte("stage \"a\" {\nfrom=\"scratch\"\n  workdir =   \"/x\"\n}\n"), "build.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := "stage \"a\" {\n  from    = \"scratch\"\n  workdir = \"/x\"\n}\n"
	if string(out) != want {
		t.Errorf("Format =\n%s\nwant\n%s", out, want)
	}
	if _, diags := Format([]byte("stage \"a\" {\n"), "build.hcl"); !diags.HasErrors() {
		t.Error("Format of a broken file succeeded")
	}
}

func TestUnits(t *testing.T) {
	sizes := map[string]int64{"1": 1, "512m": 512 << 20, "1g": 1 << 30, "2GiB": 2 << 30, "64K": 64 << 10, "10mb": 10 << 20}
	for in, want := range sizes {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "1.5g", "0", "-1m", "99999999999t"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
	durs := map[string]int64{"90": 90, "90s": 90, "10m": 600, "1h30m": 5400}
	for in, want := range durs {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"forever", "0s", "-5s", "1500ms", "800h"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) succeeded", in)
		}
	}
	modes := map[string]string{"755": "0755", "0644": "0644", "4755": "4755", "0": "0000"}
	for in, want := range modes {
		if got, _, err := parseMode(in); err != nil || got != want {
			t.Errorf("parseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"0999", "rwx", "u+x", "17777", ""} {
		if _, _, err := parseMode(in); err == nil {
			t.Errorf("parseMode(%q) succeeded", in)
		}
	}
}

// TestHandWrittenChecksMatchRegexps compares validEnvName and parseMode,
// written out by hand for speed, with the regular expressions and
// formatting they replace, on every short string over a telling alphabet.
func TestHandWrittenChecksMatchRegexps(t *testing.T) {
	envRe := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	modeRe := regexp.MustCompile(`^0?[0-7]{1,4}$`)
	alphabet := []string{"0", "1", "7", "8", "9", "a", "Z", "_", "-", " ", "é", "\xff"}
	var walk func(s string, depth int)
	walk = func(s string, depth int) {
		if got, want := validEnvName(s), envRe.MatchString(s); got != want {
			t.Errorf("validEnvName(%q) = %v, the regexp says %v", s, got, want)
		}
		got, n, err := parseMode(s)
		if modeRe.MatchString(s) {
			v, perr := strconv.ParseUint(s, 8, 32)
			if want := fmt.Sprintf("%04o", v); err != nil || perr != nil || got != want || n != uint32(v) {
				t.Errorf("parseMode(%q) = %q, %d, %v; want %q, %d", s, got, n, err, want, v)
			}
		} else if err == nil {
			t.Errorf("parseMode(%q) succeeded", s)
		}
		if depth == 0 {
			return
		}
		for _, c := range alphabet {
			walk(s+c, depth-1)
		}
	}
	walk("", 5)
}
