# A static site rendered from plain-text pages with busybox sed and awk,
# shipped as a tarball artifact.

kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

variable "SITE_TITLE" {
  type    = string
  default = "kiln example site"
}

source "local" "busybox" {
  path = "rootfs"
}

source "local" "pages" {
  path    = "pages"
  include = ["*.txt"]
}

source "local" "theme" {
  path = "theme"
}

stage "render" {
  from    = source.local.busybox
  workdir = "/work"

  copy {
    from = source.local.theme
    src  = ["/"]
    dest = "/work/theme/"
  }
  run {
    shell = "sh theme/render.sh /pages /site"
    env = {
      SITE_TITLE = var.SITE_TITLE
    }
    mount "input" {
      target = "/pages"
      from   = source.local.pages
    }
  }
  run {
    # Every page must link back to the index.
    shell = "for f in /site/*.html; do grep -q 'href=\"index.html\"' \"$f\" || { echo \"no index link in $f\"; exit 1; }; done"
  }
}

stage "site" {
  copy {
    from = stage.render
    src  = ["/site"]
    dest = "/"
  }
}

artifact "site" {
  from = stage.site
}

group "default" {
  targets = ["site"]
}
