# A C program compiled with Debian's gcc and shipped on a base of Debian's
# libc: both root filesystems are deb sources, assembled from packages
# pinned in build.lock.hcl (kiln lock resolves their dependencies).

kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
  default           = ["hello"]
}

source "deb" "toolchain" {
  packages     = ["gcc", "libc6-dev"]
  suite        = "bookworm"
  architecture = "amd64"
}

source "deb" "runtime" {
  packages     = ["libc6"]
  suite        = "bookworm"
  architecture = "amd64"
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

image "hello" {
  from       = stage.runtime
  entrypoint = ["/usr/local/bin/hello"]
}

artifact "hello-bin" {
  from = stage.build
  path = "/out/hello"
}
