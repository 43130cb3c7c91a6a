# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

image "app" {
  index "gzip" {
    digest = "sha256:00c1fd7898a0dd843923260e2ea531a8440c6957482f54696e86986a5fba7630"
  }

  manifest "linux/amd64" "gzip" {
    digest = "sha256:7cf0683305698f3d590f28954f0ff9b04944a744558b36a38b199318f327d582"
    config = "sha256:1ff82d7bbbd58714f22542e15555b8ffa4f18802eb2c44990f38f1d46c6f2e14"
    diff_ids = [
      "sha256:3bf367d8243445118e4a4011884c1ece33758f6374cff79804591c0e1f4eb96c",
    ]
    blobs = [
      "sha256:b8362a398dc13abadd3b1ba8133e61add8250e2d2fc6cdd00b7f0ea7cf46cdfc",
    ]
  }

  manifest "linux/arm64" "gzip" {
    digest = "sha256:2e799baa4c3ee036952c0cbf5f58826c47edadda3f323bb3909f593a024ce997"
    config = "sha256:500b4aec0ad06d7079cf683979eea94b9c6911e7efa43c3d88b2bc22277e3b14"
    diff_ids = [
      "sha256:3cc4ea2f5e825297850dc78a8a6321ff41bcfca42d5c65e191942c1a8118bdaa",
    ]
    blobs = [
      "sha256:2cb07318552f5ab872cccb6927882c0e9746a6958c542e965f2b99eb649edcf5",
    ]
  }
}
