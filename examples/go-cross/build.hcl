# A Go program cross-compiled for linux/amd64 and linux/arm64 into one
# image index, without emulation: the build stage runs on the build
# platform (platform = build_platform, Dockerfile's
# FROM --platform=$BUILDPLATFORM) with Debian's Go toolchain for that
# platform, and Go builds for the target: GOOS and GOARCH are target_os and
# target_arch, the expression forms of BuildKit's TARGETOS and TARGETARCH
# (which kiln also sets in the steps of a stage that names its platform;
# this root has no shell to expand them). Each platform's image holds a
# static binary on an empty base.

kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
  default           = ["app"]
}

# The toolchain runs on the build platform, so its architecture is the
# build platform's (amd64 in the lock; kiln lock re-pins it on another).
source "deb" "go" {
  packages     = ["golang-go"]
  suite        = "bookworm"
  architecture = element(split("/", build_platform), 1)
}

source "local" "src" {
  path = "src"
}

stage "build" {
  from     = source.deb.go
  platform = build_platform
  workdir  = "/src"
  env = {
    CGO_ENABLED = "0"
    GOFLAGS     = "-trimpath -buildvcs=false"
    GOCACHE     = "/cache/go-build"
    GOPROXY     = "off"
    GOOS        = target_os
    GOARCH      = target_arch
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
    command = ["go", "build", "-ldflags=-buildid= -s -w", "-o", "/out/go-cross", "."]
    mount "tmpfs" { target = "/cache" }
  }
}

stage "runtime" {
  copy {
    from = stage.build
    src  = ["/out/go-cross"]
    dest = "/usr/local/bin/go-cross"
  }
}

image "app" {
  from       = stage.runtime
  platforms  = ["linux/amd64", "linux/arm64"]
  entrypoint = ["/usr/local/bin/go-cross"]
  labels = {
    "org.opencontainers.image.title" = "go-cross"
  }
}

artifact "bin" {
  from      = stage.build
  platforms = ["linux/amd64", "linux/arm64"]
  path      = "/out/go-cross"
}
