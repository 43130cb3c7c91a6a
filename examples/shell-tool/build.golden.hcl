# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

image "tool" {
  manifest "linux/amd64" "gzip" {
    digest = "sha256:d10ff34a0974b4cb1ee31a4104fb7b7c3cfc4f4e4ff3cfec1a905ce43e122d29"
    config = "sha256:9c2a6dec26b02bedb61a5a49bf7081664d1ec14b5402a083bd6452ac49a8e010"
    diff_ids = [
      "sha256:2c6100a178515c4cbec03233381475bc0228f567ea618975fff6f776aa63b998",
      "sha256:4bb3f511a509198ce4b938e324cc7fdc921144dab321b9575cb66b6b77fa71ba",
      "sha256:42efd2e555296a3c2d8c43a0b88105d3cdc21842972b44b1bb60055b5fd05e69",
    ]
    blobs = [
      "sha256:35bfa6514bc3ad83af44d74d1ede5e983105137a09f4b520493bea864b8be33e",
      "sha256:79b3334cf8c7a0d5c9f1e2b5e02c8d27f82248f18d3839e11b20b60793d00b62",
      "sha256:565b3595d5a1cda52286486271533179fcd604f7e982c293db35c4fbeaabf743",
    ]
  }
}
