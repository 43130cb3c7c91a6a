# This file is maintained by kiln lock. Do not edit it by hand.
# Run `kiln lock` to add missing inputs, `kiln lock --update INPUT` to re-resolve one.

version = 1

source "deb" "go" {
  suite        = "bookworm"
  architecture = "amd64"
  packages     = ["golang-go"]

  package "gcc-12-base" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/gcc-12-base_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "1896a2aacf4ad681ff5eacc24a5b0ca4d5d9c9b9c9e4b6de5197bc1e116ea619"
    size         = 37596
  }

  package "golang-1.19-go" {
    version      = "1.19.8-2"
    architecture = "amd64"
    filename     = "pool/main/g/golang-1.19/golang-1.19-go_1.19.8-2_amd64.deb"
    sha256       = "545123039b6c79e75cf2d86528781a825424cf33ce9d3f4513d772d7144cd531"
    size         = 62705552
  }

  package "golang-1.19-src" {
    version      = "1.19.8-2"
    architecture = "all"
    filename     = "pool/main/g/golang-1.19/golang-1.19-src_1.19.8-2_all.deb"
    sha256       = "2dfa82fe4f08f4e0193c532e561af4c91871f5235608f04f2bb8d57bb288df5a"
    size         = 18308084
  }

  package "golang-go" {
    version      = "2:1.19~1"
    architecture = "amd64"
    filename     = "pool/main/g/golang-defaults/golang-go_1.19~1_amd64.deb"
    sha256       = "2177ae060e8291db3ddcbe1aab03df3947b0294627414b1d0cd48901efade157"
    size         = 44956
  }

  package "golang-src" {
    version      = "2:1.19~1"
    architecture = "all"
    filename     = "pool/main/g/golang-defaults/golang-src_1.19~1_all.deb"
    sha256       = "15c5627e7f1ae650ea1103b864b77d874b5b1d2693802649b956efeed3ccb02f"
    size         = 5756
  }

  package "libc6" {
    version      = "2.36-9+deb12u14"
    architecture = "amd64"
    filename     = "pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb"
    sha256       = "ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf"
    size         = 2759320
  }

  package "libgcc-s1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7"
    size         = 49856
  }
}
