# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

image "tool" {
  manifest "linux/amd64" "gzip" {
    digest = "sha256:012b04fe454111f2fdfd522a65dda0eca44ca7a211184c2f078ef050514bc3be"
    config = "sha256:08eacc8de5d3ab19bcd68d845c50919793d3c9b43e25892f863527e5bac72051"
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
