package dockerimport

import (
	"strings"
	"testing"
)

// TestMapping pins one rule of the translation per case: what the output
// must and must not hold, and which notes it prints.
func TestMapping(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		opts       Options
		want       []string // substrings of the output, whitespace-collapsed
		not        []string
		notes      []string // substrings of the notes, in any order
	}{{
		name:       "entrypoint drops an inherited cmd, not its own",
		dockerfile: "FROM a AS base\nCMD [\"x\"]\nFROM base\nENTRYPOINT [\"/e\"]\n",
		want:       []string{`entrypoint = ["/e"]`},
		not:        []string{`cmd =`},
	}, {
		name:       "cmd after entrypoint stays",
		dockerfile: "FROM a\nENTRYPOINT [\"/e\"]\nCMD [\"x\"]\n",
		want:       []string{`entrypoint = ["/e"]`, `cmd = ["x"]`},
	}, {
		name:       "shell form runs under sh -c, or SHELL: the stage's shell and the image's",
		dockerfile: "FROM a\nCMD run it\nSHELL [\"/bin/bash\", \"-c\"]\nRUN echo $HOME\nENTRYPOINT exec app\n",
		want: []string{`cmd = ["/bin/sh", "-c", "run it"]`, `stage "stage0" { from = source.image.a shell = ["/bin/bash", "-c"] run { shell = "echo $HOME" } }`,
			`entrypoint = ["/bin/bash", "-c", "exec app"]`, `shell = ["/bin/bash", "-c"] }`},
		not: []string{"command ="},
	}, {
		name:       "RUN lines under two shells in one stage: the later ones are command lists",
		dockerfile: "FROM a\nRUN one\nSHELL [\"/bin/bash\", \"-c\"]\nRUN two\n",
		want:       []string{`run { shell = "one" } run { command = ["/bin/bash", "-c", "two"] }`, `image "image" { from = stage.stage0 shell = ["/bin/bash", "-c"] }`},
		not:        []string{`stage0" { from = source.image.a shell`},
	}, {
		name:       "a stage inherits its parent's shell; its own SHELL is written on it",
		dockerfile: "FROM a AS b\nSHELL [\"/bin/ash\", \"-c\"]\nFROM b AS c\nRUN x\nFROM b\nSHELL [\"/bin/sh\", \"-c\"]\nRUN y\n",
		opts:       Options{Target: "c"},
		want:       []string{`stage "b" { from = source.image.a shell = ["/bin/ash", "-c"] }`, `stage "c" { from = stage.b run { shell = "x" } }`, `shell = ["/bin/ash", "-c"] }`},
	}, {
		name:       "the default shell restored after a parent's SHELL",
		dockerfile: "FROM a AS b\nSHELL [\"/bin/ash\", \"-c\"]\nFROM b\nSHELL [\"/bin/sh\", \"-c\"]\nRUN y\n",
		want:       []string{`stage "stage1" { from = stage.b shell = ["/bin/sh", "-c"] run { shell = "y" } }`},
	}, {
		name:       "ARG is a variable, in scope only after it, and in a RUN's env",
		dockerfile: "FROM a\nRUN echo $V\nARG V=1\nRUN echo $V\nENV W=${V}x\n",
		want:       []string{`variable "V" { type = string default = "1" }`, `run { shell = "echo $V" } run { shell = "echo $V" env = { V = "${var.V}" } }`, `W = "${var.V}x"`},
	}, {
		name:       "ENV wins over ARG of the same name",
		dockerfile: "FROM a\nARG X=arg\nENV X=env\nRUN echo $X\nLABEL l=$X\n",
		want:       []string{`run { shell = "echo $X" }`, `l = "env"`},
	}, {
		name:       "literal dollars and percents stay literal",
		dockerfile: "FROM a\nENV A='${not}' B=%{x}\nRUN echo '${HOME}' %{y}\n",
		want:       []string{`A = "$${not}"`, `B = "%%{x}"`, `shell = "echo '$${HOME}' %%{y}"`},
	}, {
		name:       "global ARG fixes FROM, with a note",
		dockerfile: "ARG BASE=alpine:3.20\nFROM ${BASE}\n",
		want:       []string{`ref = "alpine:3.20"`, `variable "BASE"`},
		notes:      []string{"line 2: FROM"},
	}, {
		name:       "stages by name and index, and --target keeps only what it needs",
		dockerfile: "FROM a AS one\nRUN x\nFROM b AS two\nFROM scratch AS three\nCOPY --from=0 /x /x\n",
		opts:       Options{Target: "three"},
		want:       []string{`stage "one"`, `from = stage.one`, `from = "scratch"`, `image "three"`, `default = ["three"]`},
		not:        []string{`stage "two"`, `source "image" "b"`},
	}, {
		name:       "FROM a stage inherits its env, workdir and user without restating them",
		dockerfile: "FROM a AS b\nENV K=v\nWORKDIR /w\nUSER 1:2\nFROM b\nRUN x\n",
		want:       []string{`stage "stage1" { from = stage.b run { shell = "x" } }`, `image "image" { from = stage.stage1 env = { K = "v" } workdir = "/w" user = "1:2" }`},
	}, {
		name:       "named contexts: an OCI layout, an image, a folder",
		dockerfile: "FROM base\nCOPY --from=tools /t /t\nCOPY --from=assets / /a/\n",
		opts:       Options{Contexts: map[string]string{"base": "oci-layout://layouts/base:v1", "tools": "docker-image://example.com/tools:1", "assets": "./web/assets"}},
		want:       []string{`source "oci-layout" "base" { path = "layouts/base" ref = "v1" }`, `ref = "example.com/tools:1"`, `source "local" "assets" { path = "web/assets" }`},
	}, {
		name:       "COPY from the context takes only what it names",
		dockerfile: "FROM a\nWORKDIR /src\nCOPY go.mod go.sum ./\nCOPY . .\nCOPY ./cmd/app.go cmd/\n",
		want:       []string{`include = ["go.mod", "go.sum"]`, `src = ["go.mod", "go.sum"] dest = "./"`, `source "local" "context" { path = "." }`, `src = ["."] dest = "./"`, `src = ["cmd/app.go"] dest = "cmd/"`},
	}, {
		name: "chown and chmod: numeric and names kept, root made numeric, symbolic modes noted",
		dockerfile: "FROM a\nCOPY --chown=10:20 --chmod=640 a /a\nCOPY --chown=root b /b\nCOPY --chown=app:app --chmod=u+x c /c\n" +
			"ARG U=web\nCOPY --chown=${U}:staff d /d\nADD --chown=app https://example.org/f /f\nCOPY --chown=app:1 <<EOF /e\nx\nEOF\nCOPY --chown=a:b:c e /e\n",
		want: []string{`chown = "10:20" chmod = "640"`, `chown = "0:0"`, `src = ["c"] dest = "/c" chown = "app:app" }`, `chown = "${var.U}:staff"`,
			`src = ["f"] dest = "/f" chown = "app"`, `file { path = "/e" content = "x\n" chown = "app:1" }`},
		not:   []string{`"a:b:c"`},
		notes: []string{"line 4: COPY: --chmod=u+x", "line 11: COPY: --chown=a:b:c is not translated"},
	}, {
		name:       "ADD: URL, git and local archive",
		dockerfile: "FROM a\nADD https://example.org/x/tool.tgz /opt/\nADD https://example.org/repo.git#v1.2 /src\nADD data.tar.gz /d/\n",
		want:       []string{`source "http" "tool_tgz" { url = "https://example.org/x/tool.tgz" }`, `from = source.http.tool_tgz src = ["tool.tgz"] dest = "/opt/"`, `source "git" "repo" { url = "https://example.org/repo.git" ref = "v1.2" }`},
		notes:      []string{"line 4: ADD: ADD unpacks the local archive"},
	}, {
		name: "RUN mounts",
		dockerfile: "FROM a AS d\nFROM a\nRUN --mount=type=cache,target=/c,id=cc,sharing=private,mode=0700 " +
			"--mount=type=secret,id=tok,target=/t,required " +
			"--mount=type=tmpfs,target=/tmp,size=1m " +
			"--mount=type=bind,from=d,source=/out,target=/in,rw " +
			"--mount=type=bind,source=conf,target=/conf " +
			"--mount=type=ssh " +
			"--mount=type=ssh,id=gh,target=/s,required,mode=0644 x\n",
		want: []string{
			`mount "cache" { target = "/c" id = "cc" sharing = "private" mode = "0700" }`,
			`mount "secret" { id = "tok" target = "/t" required = true }`,
			`mount "tmpfs" { target = "/tmp" size = "1048576" }`,
			`mount "input" { target = "/in" from = stage.d source = "/out" readwrite = true }`,
			`mount "input" { target = "/conf" from = source.local.context_conf source = "conf" }`,
			`mount "ssh" { required = false } mount "ssh" { id = "gh" target = "/s" }`,
		},
		notes: []string{"line 3: RUN: --mount=type=ssh,mode=0644 is not translated"},
	}, {
		name:       "network: host becomes a fixed-output step, none is the default, the rest is noted once",
		dockerfile: "FROM a\nRUN --network=host fetch\nRUN --network=none a\nRUN b\nRUN c\n",
		want:       []string{`shell = "fetch" fixed_output = true network = "host"`, `security`[:0]},
		notes:      []string{"line 2: RUN: --network=host", "line 4: RUN: kiln runs steps without network"},
	}, {
		name:       "heredocs: a RUN script and a COPY file",
		dockerfile: "FROM a\nRUN <<EOF\nset -e\necho ${X}\nEOF\nCOPY <<CONF /etc/app.conf\nport=1\nCONF\n",
		want:       []string{"shell = <<EOT set -e echo $${X} EOT", `file { path = "/etc/app.conf" content = "port=1\n" }`},
	}, {
		name:       "image config: labels, ports, volumes, stop signal",
		dockerfile: "FROM a\nLABEL a=1 \"b c\"=2\nMAINTAINER me\nEXPOSE 80 53/udp 8000-8001\nVOLUME /data\nVOLUME [\"/y\"]\nSTOPSIGNAL SIGQUIT\n",
		want:       []string{`labels = { a = "1" "b c" = "2" maintainer = "me" }`, `expose = ["53/udp", "80", "8000", "8001"]`, `volumes = ["/data", "/y"]`, `stop_signal = "SIGQUIT"`},
	}, {
		name:       "healthcheck: shell form a string, durations, retries; the last one wins",
		dockerfile: "FROM a\nHEALTHCHECK CMD false\nHEALTHCHECK --interval=1m30s --timeout=5s --start-period=2m --retries=3 CMD curl -f \"http://x/${P}\" || exit 1\n",
		want:       []string{`healthcheck { test = "curl -f \"http://x/$${P}\" || exit 1" interval = "90s" timeout = "5s" start_period = "2m" retries = 3 }`},
		not:        []string{"false"},
	}, {
		name:       "healthcheck: exec form, NONE, inherited from the parent stage; what kiln cannot say is noted",
		dockerfile: "FROM a AS b\nHEALTHCHECK --interval=500ms --start-interval=2s CMD [\"/bin/check\", \"-q\"]\nFROM b AS c\nFROM a AS d\nHEALTHCHECK NONE\nFROM c\n",
		want:       []string{`healthcheck { test = ["CMD", "/bin/check", "-q"] }`},
		not:        []string{"interval =", `"NONE"`},
		notes:      []string{"line 2: HEALTHCHECK: --interval=500ms is not translated", "line 2: HEALTHCHECK: --start-interval=2s is not translated"},
	}, {
		name:       "healthcheck NONE",
		dockerfile: "FROM a\nHEALTHCHECK NONE\n",
		want:       []string{`healthcheck { test = ["NONE"] }`},
	}, {
		name: "onbuild: the image's own triggers; a parent stage's run first in its children, as in BuildKit",
		dockerfile: "FROM a AS base\nONBUILD RUN echo built on base\nONBUILD COPY app /app\nRUN before\n" +
			"FROM base AS child\nONBUILD RUN echo child\nRUN after\n",
		want: []string{`stage "base" { from = source.image.a run { shell = "before" } }`,
			`stage "child" { from = stage.base # line 2: ONBUILD RUN of stage base, run first here as BuildKit does run { shell = "echo built on base" } ` +
				`# line 3: ONBUILD COPY of stage base, run first here as BuildKit does copy { from = source.local.context_app src = ["app"] dest = "/app" } run { shell = "after" } }`,
			`image "child" { from = stage.child onbuild = ["RUN echo child"] }`},
		not: []string{"COPY app"},
	}, {
		name:       "an onbuild trigger that does not parse is noted where its child is built",
		dockerfile: "FROM a AS base\nONBUILD COPY\nFROM base\nRUN x\n",
		want:       []string{`stage "stage1" { from = stage.base # line 2: ONBUILD: the trigger "COPY" does not parse`},
		notes:      []string{`line 2: ONBUILD: the trigger "COPY" does not parse`},
	}, {
		name:       "platform ARGs take the platform's values",
		dockerfile: "FROM --platform=$BUILDPLATFORM a\nARG TARGETOS TARGETARCH\nRUN GOOS=$TARGETOS go build\n",
		opts:       Options{Platform: "linux/arm64"},
		want:       []string{`platform = "linux/arm64"`, `TARGETOS = "linux" TARGETARCH = "arm64"`},
		not:        []string{`variable`, `stage "stage0" { platform`},
	}, {
		name:       "a modifier on an ARG is expanded with its default, fixed",
		dockerfile: "FROM a\nARG V=v1.2\nARG E\nLABEL a=${V#v} b=${V%?} c=${E:-none} d=${V:-none} e=x$${V}\n",
		want:       []string{`a = "1.2"`, `b = "v1."`, `c = "none"`, `d = "${var.V}"`},
		notes:      []string{`line 4: LABEL: "${V#v}" applies a modifier`, `"${V%?}" applies a modifier`, `"${E:-none}" applies a modifier`},
	}, {
		name:       "a literal $ before an interpolation stays literal",
		dockerfile: "FROM a\nARG V=1\nENV P=\\$$V Q=%$V\n",
		want:       []string{`P = "${"$"}${var.V}"`, `Q = "${"%"}${var.V}"`},
	}, {
		name:       "mount targets are read from the working directory; a bind of a file is a copy and a remove",
		dockerfile: "FROM a\nWORKDIR /src\nRUN --mount=type=cache,target=.cache --mount=type=bind,source=go.sum,target=go.sum go mod download\n",
		opts:       Options{IsFile: func(p string) bool { return p == "go.sum" }},
		want: []string{
			`copy { from = source.local.context_go_sum src = ["go.sum"] dest = "/src/go.sum" } run { shell = "go mod download"`,
			`mount "cache" { target = "/src/.cache" } } remove { path = "/src/go.sum" }`,
		},
		notes: []string{"line 3: RUN: --mount=type=bind of the file go.sum"},
	}, {
		name:       "relative WORKDIR",
		dockerfile: "FROM a\nWORKDIR /a\nWORKDIR b/../c\n",
		want:       []string{`workdir { path = "/a" } workdir { path = "/a/c" }`, `workdir = "/a/c"`},
	}}
	collapse := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Convert([]byte(tt.dockerfile), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			out := collapse(string(res.HCL))
			var notes []string
			for _, n := range res.Notes {
				notes = append(notes, n.String())
			}
			all := strings.Join(notes, "\n")
			for _, w := range tt.want {
				if !strings.Contains(out, collapse(w)) {
					t.Errorf("output lacks %s\n%s\nnotes:\n%s", w, res.HCL, all)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, collapse(w)) {
					t.Errorf("output holds %s\n%s", w, res.HCL)
				}
			}
			for _, w := range tt.notes {
				if !strings.Contains(all, w) {
					t.Errorf("no note %q in:\n%s", w, all)
				}
			}
		})
	}
}

// TestErrors: what docker build refuses, kiln import refuses, naming the
// problem; nothing is written.
func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		dockerfile string
		opts       Options
		want       string
	}{
		{"", Options{}, "file with no instructions"},
		{"ARG X=1\n", Options{}, "has no FROM"},
		{"RUN x\n", Options{}, "parsing Dockerfile"},
		{"FROM a AS b\n", Options{Target: "c"}, `no stage "c" to target (its named stages: b)`},
		{"FROM a\nRUN x \uE000\n", Options{}, "Dockerfile:2: holds the private-use character U+E000"},
	} {
		_, err := Convert([]byte(tt.dockerfile), tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want an error with %q", tt.dockerfile, err, tt.want)
		}
	}
}
