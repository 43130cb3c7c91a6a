# A small HTTP service on busybox, built in one stage and shipped in a
# second, minimal one: the shape of most Dockerfiles with a build stage.

kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
  default           = ["app"]
}

variable "GREETING" {
  type        = string
  default     = "hello from kiln"
  description = "What the service's front page says."
  validation {
    condition     = strlen(var.GREETING) > 0 && strlen(var.GREETING) < 200
    error_message = "GREETING must be 1 to 199 characters."
  }
}

locals {
  port = 8080
}

source "local" "busybox" {
  path = "rootfs"
}

source "local" "src" {
  path    = "src"
  exclude = ["*.orig", "tmp"]
}

stage "build" {
  from    = source.local.busybox
  workdir = "/src"

  copy {
    from = source.local.src
    src  = ["/"]
    dest = "/src/"
  }
  run {
    shell = "sh ./build.sh /out"
    env = {
      GREETING = var.GREETING
      PORT     = tostring(local.port)
    }
  }
  run {
    shell = "sh ./test.sh /out"
  }
}

stage "runtime" {
  from = source.local.busybox

  copy {
    from = stage.build
    src  = ["/out"]
    dest = "/"
  }
  mkdir {
    path    = "/var/lib/service"
    mode    = "0750"
    parents = true
  }
  file {
    path    = "/etc/service.conf"
    content = "port=${local.port}\n"
  }
}

image "app" {
  from       = stage.runtime
  entrypoint = ["/bin/service"]
  cmd        = ["--port", tostring(local.port)]
  env = {
    SERVICE_MODE = "production"
  }
  workdir = "/var/lib/service"
  expose  = ["${local.port}/tcp"]
  labels = {
    "org.opencontainers.image.title" = "service"
  }
}
