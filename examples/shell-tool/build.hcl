# A command-line tool written in shell: tested in the build, shipped both as
# an image and as a tarball. A user function keeps the two test runs short.

kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
  default           = ["tool"]
}

variable "VERSION" {
  type    = string
  default = "1.2.0"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.VERSION))
    error_message = "VERSION must look like 1.2.3."
  }
}

function "sh_test" {
  params = [name]
  result = "sh /tests/${name}.sh /usr/local/bin/wordfreq"
}

source "local" "busybox" {
  path = "rootfs"
}

source "local" "src" {
  path = "src"
}

source "local" "tests" {
  path = "tests"
}

stage "tool" {
  from = source.local.busybox

  copy {
    from  = source.local.src
    src   = ["/wordfreq.sh"]
    dest  = "/usr/local/bin/wordfreq"
    chmod = "0755"
  }
  file {
    path    = "/usr/local/share/wordfreq/VERSION"
    content = "${var.VERSION}\n"
  }
}

stage "tested" {
  from = stage.tool

  run {
    shell = sh_test("counts")
    mount "input" {
      target = "/tests"
      from   = source.local.tests
    }
  }
  run {
    shell = sh_test("usage")
    mount "input" {
      target = "/tests"
      from   = source.local.tests
    }
  }
}

stage "dist" {
  copy {
    from = stage.tested
    src  = ["/usr/local/bin/wordfreq"]
    dest = "/wordfreq-${var.VERSION}/bin/"
  }
  copy {
    from = stage.tool
    src  = ["/usr/local/share/wordfreq"]
    dest = "/wordfreq-${var.VERSION}/share/"
  }
}

image "tool" {
  from       = stage.tested
  entrypoint = ["/usr/local/bin/wordfreq"]
  labels = {
    "org.opencontainers.image.version" = var.VERSION
  }
}

# The whole of stage.dist: one folder, wordfreq-VERSION/, as a release
# tarball has. (A path would export that folder's contents.)
artifact "tarball" {
  from = stage.dist
}

group "release" {
  targets = ["tool", "tarball"]
}
