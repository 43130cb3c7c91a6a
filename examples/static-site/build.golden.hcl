# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

artifact "site" {
  sha256 = "02706cbe0d2d29d4040ecdc2a8aebb9327876691f772c60004c78b5c9b96229b"
}
