# A Go HTTP service (standard library only) compiled with Debian 12's Go
# toolchain, a deb source pinned in build.lock.hcl, and shipped as a
# static binary on an empty base: the image holds the binary, a passwd
# file for its unprivileged user, and nothing else.

kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
  default           = ["service"]
}

source "deb" "go" {
  packages     = ["golang-go"]
  suite        = "bookworm"
  architecture = "amd64"
}

source "local" "src" {
  path = "src"
}

stage "build" {
  from    = source.deb.go
  workdir = "/src"
  env = {
    # A static binary with no C: it runs on an empty base.
    CGO_ENABLED = "0"
    GOFLAGS     = "-trimpath -buildvcs=false"
    GOCACHE     = "/cache/go-build"
    # No network in the sandbox: the module has no dependencies.
    GOPROXY = "off"
  }

  copy {
    from = source.local.src
    src  = ["/"]
    dest = "/src/"
  }
  mkdir {
    path = "/out"
  }
  run {
    # -buildid= drops the only input-path-dependent bytes -trimpath leaves.
    command = ["go", "build", "-ldflags=-buildid= -s -w", "-o", "/out/go-service", "."]
    mount "tmpfs" { target = "/cache" }
  }
  run {
    command = ["/out/go-service", "--check"]
  }
}

stage "runtime" {
  copy {
    from = stage.build
    src  = ["/out/go-service"]
    dest = "/usr/local/bin/go-service"
  }
  file {
    path    = "/etc/passwd"
    content = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
  }
  file {
    path    = "/etc/group"
    content = "root:x:0:\nnogroup:x:65534:\n"
  }
}

image "service" {
  from       = stage.runtime
  entrypoint = ["/usr/local/bin/go-service"]
  cmd        = ["--addr", ":8080"]
  user       = "65534:65534"
  expose     = ["8080/tcp"]
  labels = {
    "org.opencontainers.image.title" = "go-service"
  }
}

artifact "go-service-bin" {
  from = stage.build
  path = "/out/go-service"
}
