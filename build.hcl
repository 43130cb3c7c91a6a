# kiln builds itself: `kiln build kiln` writes the kiln binary, `kiln build
# image.kiln-image` an OCI image with it. Everything comes from pins in
# build.lock.hcl: Debian 12 packages (gcc and libc for cgo, which
# libcontainer's nsenter needs; libseccomp and pkg-config for its seccomp
# filter of build steps; curl and unzip to fetch), the Go toolchain
# and the module dependencies, both fetched by fixed-output steps through
# the Go module proxy named by GOPROXY in kiln's environment (never in this
# repository: export GOPROXY=$(go env GOPROXY) if it is not set).

kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
  default           = ["kiln"]
}

locals {
  go_version = "1.26.8"
  # Proxies reach fixed-output steps from kiln's environment; their values
  # are not hashed (the pinned output hash checks they change nothing).
  net_env = ["GOPROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"]
}

source "deb" "tools" {
  packages     = ["gcc", "libc6-dev", "libseccomp-dev", "pkg-config", "curl", "ca-certificates", "unzip", "dash", "coreutils", "findutils"]
  suite        = "bookworm"
  architecture = "amd64"
}

# Only what `go build` reads: a change to a test, a doc or an example does
# not rebuild kiln. .kilnignore keeps stores and outputs out as well.
source "local" "repo" {
  path    = "."
  include = ["go.mod", "go.sum", "**/*.go"]
  exclude = ["**/*_test.go", "examples", "bench", "scripts", "**/testdata"]
}

source "local" "gomod" {
  path    = "."
  include = ["go.mod", "go.sum"]
}

stage "tools" {
  from = source.deb.tools
  run {
    # What ca-certificates' maintainer script would generate: the bundle
    # curl and Go read. Sorted by the shell's glob, so always the same.
    shell = "mkdir -p /etc/ssl/certs && cat /usr/share/ca-certificates/mozilla/*.crt > /etc/ssl/certs/ca-certificates.crt"
  }
}

# The Go toolchain, from the module proxy as the go command fetches it for
# GOTOOLCHAIN (Debian 12's golang-go is 1.19, too old for go.mod).
stage "go" {
  from = stage.tools
  run {
    fixed_output = true
    network      = "host"
    impure_env   = local.net_env
    env          = { GO_VERSION = local.go_version }
    shell        = <<-EOT
      set -eu
      proxy=
      IFS=',|'
      for p in $${GOPROXY:-}; do
        case "$p" in direct|off|"") ;; *) proxy="$${p%/}"; break ;; esac
      done
      unset IFS
      if [ -z "$proxy" ]; then
        echo "GOPROXY names no proxy in kiln's environment: run 'export GOPROXY=\$(go env GOPROXY)' and build again" >&2
        exit 1
      fi
      zip="golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-amd64"
      curl -fsSL --retry 3 -o /tmp/go.zip "$proxy/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-amd64.zip"
      mkdir -p /tmp/x /usr/local
      unzip -q /tmp/go.zip -d /tmp/x
      mv "/tmp/x/$zip" /usr/local/go
      /usr/local/go/bin/go version
    EOT
    mount "tmpfs" { target = "/tmp" }
    # go writes telemetry (dated counters, a random weekday) under $HOME.
    mount "tmpfs" { target = "/root" }
  }
  symlink {
    path   = "/usr/local/bin/go"
    target = "../go/bin/go"
  }
}

# The module dependencies, as `go mod download` leaves them in GOMODCACHE.
# GOSUM_SHA256 makes kiln lock --check fail when go.sum changes: the pinned
# hash is then stale, as a Nix vendorHash would be.
stage "modules" {
  from    = stage.go
  workdir = "/src"
  copy {
    from = source.local.gomod
    src  = ["/go.mod", "/go.sum"]
    dest = "/src/"
  }
  run {
    fixed_output = true
    network      = "host"
    impure_env   = local.net_env
    env = {
      GOSUM_SHA256 = filesha256("go.sum")
      GOFLAGS      = "-mod=mod"
      # go.sum verifies every module; the checksum database's cache would
      # only make the output differ from one download to the next.
      GOSUMDB     = "off"
      GOMODCACHE  = "/gomod"
      GOTOOLCHAIN = "local"
      GOCACHE     = "/tmp/gocache"
    }
    # Lock files and the VCS cache are the download's bookkeeping, not
    # modules: they would make two downloads differ.
    shell = "go mod download && find /gomod -name '*.lock' -delete && rm -rf /gomod/cache/vcs"
    mount "tmpfs" { target = "/tmp" }
    mount "tmpfs" { target = "/root" }
  }
}

stage "build" {
  from    = stage.go
  workdir = "/src"
  env = {
    CGO_ENABLED = "1"
    GOFLAGS     = "-mod=readonly -trimpath -buildvcs=false"
    GOMODCACHE  = "/gomod"
    GOPROXY     = "off"
    GOSUMDB     = "off"
    GOTOOLCHAIN = "local"
    GOCACHE     = "/cache/go-build"
    # -trimpath covers Go; the C of libcontainer's nsenter gets the same
    # prefix rewriting (and the build runs in fixed paths anyway).
    CGO_CFLAGS = "-O2 -g -ffile-prefix-map=/src/= -ffile-prefix-map=/gomod/="
  }
  copy {
    from = source.local.repo
    src  = ["/"]
    dest = "/src/"
  }
  mkdir {
    path = "/out"
  }
  run {
    # Static, so the image needs no libc; netgo and osusergo keep glibc's
    # NSS (which cannot be linked statically) out, as runc's static build
    # does; seccomp links libseccomp.a, without which kiln refuses to run
    # steps. -buildid= and -s -w drop what depends on the build machine.
    command = [
      "go", "build", "-tags", "netgo,osusergo,seccomp",
      "-ldflags=-buildid= -s -w -linkmode=external -extldflags=-static",
      "-o", "/out/kiln", "./cmd/kiln",
    ]
    mount "input" {
      target = "/gomod"
      from   = stage.modules
      source = "/gomod"
    }
    # The Go build cache only speeds up rebuilds: it never changes what
    # go build produces, so it is a cache mount, not part of any hash.
    mount "cache" {
      target = "/cache"
      id     = "kiln-self-go-build"
    }
    mount "tmpfs" { target = "/root" }
    mount "tmpfs" { target = "/tmp" }
  }
  # kiln-init, the small init of kiln's sandboxes (libcontainer's init
  # and nsenter only), ships next to kiln, which starts it instead of its
  # own binary at every step. Built as kiln is: the same libcontainer,
  # static, with libseccomp, because the init applies the step's filter.
  run {
    command = [
      "go", "build", "-tags", "netgo,osusergo,seccomp",
      "-ldflags=-buildid= -s -w -linkmode=external -extldflags=-static",
      "-o", "/out/kiln-init", "./cmd/kiln-init",
    ]
    mount "input" {
      target = "/gomod"
      from   = stage.modules
      source = "/gomod"
    }
    mount "cache" {
      target = "/cache"
      id     = "kiln-self-go-build"
    }
    mount "tmpfs" { target = "/root" }
    mount "tmpfs" { target = "/tmp" }
  }
  # kiln-buildkit, the helper kiln runs --buildkit builds and kiln llb
  # through (BuildKit's client, kept out of kiln's own start-up), ships
  # next to kiln. It has no C: netgo and osusergo keep the standard
  # library's cgo out, so it is static without external linking.
  run {
    env = { CGO_ENABLED = "0" }
    command = [
      "go", "build", "-tags", "netgo,osusergo",
      "-ldflags=-buildid= -s -w",
      "-o", "/out/kiln-buildkit", "./cmd/kiln-buildkit",
    ]
    mount "input" {
      target = "/gomod"
      from   = stage.modules
      source = "/gomod"
    }
    mount "cache" {
      target = "/cache"
      id     = "kiln-self-go-build"
    }
    mount "tmpfs" { target = "/root" }
    mount "tmpfs" { target = "/tmp" }
  }
  run {
    command = ["/out/kiln", "version"]
  }
}

stage "runtime" {
  copy {
    from = stage.build
    src  = ["/out/kiln", "/out/kiln-init", "/out/kiln-buildkit"]
    dest = "/usr/local/bin/"
  }
  copy {
    from = stage.tools
    src  = ["/etc/ssl/certs/ca-certificates.crt"]
    dest = "/etc/ssl/certs/ca-certificates.crt"
  }
  file {
    path    = "/etc/passwd"
    content = "root:x:0:0:root:/root:/sbin/nologin\n"
  }
  file {
    path    = "/etc/group"
    content = "root:x:0:\n"
  }
  mkdir {
    path = "/tmp"
    mode = "1777"
  }
  mkdir {
    path = "/root"
    mode = "0700"
  }
}

# The binaries alone, at the root: `-o type=local,dest=DIR` writes
# DIR/kiln, DIR/kiln-init (its sandboxes' init) and DIR/kiln-buildkit
# (its BuildKit helper), which kiln finds next to it.
stage "dist" {
  copy {
    from = stage.build
    src  = ["/out/kiln", "/out/kiln-init", "/out/kiln-buildkit"]
    dest = "/"
  }
}

artifact "kiln" {
  from  = stage.dist
  paths = ["/kiln", "/kiln-init", "/kiln-buildkit"]
}

image "kiln-image" {
  from       = stage.runtime
  entrypoint = ["/usr/local/bin/kiln"]
  cmd        = ["--help"]
  labels = {
    "org.opencontainers.image.title" = "kiln"
  }
}
