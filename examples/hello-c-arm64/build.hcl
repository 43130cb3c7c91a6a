# examples/hello-c for linux/arm64, two ways, from Debian's packages:
#
# - image "hello": Debian's arm64 gcc compiles the program in an arm64 root;
#   on an amd64 machine its steps run under qemu-user-static through
#   binfmt_misc (docs/platforms.md), as does the check that runs the binary.
# - image "hello-cross": Debian's amd64 cross-compiler gcc-aarch64-linux-gnu
#   compiles the same program natively (stage "cross" is linux/amd64); only
#   the check runs under the emulator.
#
# Both ship the binary on Debian's arm64 libc6. bench/platform.sh compares
# their cold builds.

kiln {
  source_date_epoch = 1700000000
  platform          = "linux/arm64"
  default           = ["hello"]
}

source "deb" "toolchain" {
  packages     = ["gcc", "libc6-dev"]
  suite        = "bookworm"
  architecture = "arm64"
}

source "deb" "cross" {
  packages     = ["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"]
  suite        = "bookworm"
  architecture = "amd64"
}

source "deb" "runtime" {
  packages     = ["libc6"]
  suite        = "bookworm"
  architecture = "arm64"
}

source "local" "src" {
  path = "src"
}

# Emulated: every run step executes arm64 programs.
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

# Cross-compiled: the compiler is an amd64 program, run natively.
stage "cross" {
  from     = source.deb.cross
  platform = "linux/amd64"
  workdir  = "/src"

  copy {
    from = source.local.src
    src  = ["/"]
    dest = "/src/"
  }
  mkdir {
    path = "/out"
  }
  run {
    command = ["aarch64-linux-gnu-gcc", "-O2", "-Wall", "-Werror", "-ffile-prefix-map=/src=.", "-o", "/out/hello", "hello.c"]
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

stage "runtime-cross" {
  from = source.deb.runtime

  copy {
    from = stage.cross
    src  = ["/out/hello"]
    dest = "/usr/local/bin/hello"
  }
}

# Both binaries run under the emulator in the image they ship in (the
# examples' tests build stage.check and read its log).
stage "check" {
  from = stage.runtime

  copy {
    from = stage.cross
    src  = ["/out/hello"]
    dest = "/usr/local/bin/hello-cross"
  }
  run {
    command = ["/usr/local/bin/hello"]
  }
  run {
    command = ["/usr/local/bin/hello-cross"]
  }
}

image "hello" {
  from       = stage.runtime
  entrypoint = ["/usr/local/bin/hello"]
}

image "hello-cross" {
  from       = stage.runtime-cross
  entrypoint = ["/usr/local/bin/hello"]
}

artifact "hello-bin" {
  from = stage.build
  path = "/out/hello"
}

artifact "hello-cross-bin" {
  from = stage.cross
  path = "/out/hello"
}
