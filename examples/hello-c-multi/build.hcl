# examples/hello-c for linux/amd64 and linux/arm64 in one image index,
# from Debian's packages: each platform's stages use that platform's gcc
# and libc (architecture = target_arch), so the amd64 compile runs
# natively and the arm64 one under qemu-user-static through binfmt_misc
# (docs/platforms.md). The lock pins each deb source once per
# architecture (docs/lockfile.md, "Several architectures"); `kiln lock
# --update` moves them together.

kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
  default           = ["hello"]
}

source "deb" "toolchain" {
  packages     = ["gcc", "libc6-dev"]
  suite        = "bookworm"
  architecture = target_arch
}

source "deb" "runtime" {
  packages     = ["libc6"]
  suite        = "bookworm"
  architecture = target_arch
}

source "local" "src" {
  path = "src"
}

stage "build" {
  from    = source.deb.toolchain
  workdir = "/src"

  copy {
    from = source.local.src
    src  = ["/"]
    dest = "/src/"
  }
  mkdir {
    path = "/out"
  }
  run {
    # -ffile-prefix-map keeps the build folder out of the binary.
    command = ["gcc", "-O2", "-Wall", "-Werror", "-ffile-prefix-map=/src=.", "-o", "/out/hello", "hello.c"]
  }
  run {
    command = ["/out/hello", "--check"]
  }
}

stage "runtime" {
  from = source.deb.runtime

  copy {
    from = stage.build
    src  = ["/out/hello"]
    dest = "/usr/local/bin/hello"
  }
}

# The binary runs in the image it ships in (the example's test builds
# stage.check for linux/arm64 and reads its log).
stage "check" {
  from = stage.runtime

  run {
    command = ["/usr/local/bin/hello"]
  }
}

image "hello" {
  from       = stage.runtime
  platforms  = ["linux/amd64", "linux/arm64"]
  entrypoint = ["/usr/local/bin/hello"]
}

artifact "hello-bin" {
  from      = stage.build
  platforms = ["linux/amd64", "linux/arm64"]
  path      = "/out/hello"
}
