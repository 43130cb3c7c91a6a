# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

image "hello" {
  manifest "linux/arm64" "gzip" {
    digest = "sha256:e095be4170958048dba5979f990b44056366047dc0c96944339ebe549aa8ed32"
    config = "sha256:854e5363b9b3c1a2be70ce3af6edf1e6f98731f013176090da29c16309517980"
    diff_ids = [
      "sha256:3330f9fdc2d16d7a1066b3f7bae1e24cb7349c676b287edf6abac5d52571c261",
      "sha256:79ca3caa66ce12aa7db6ed20b0ff973e67175f5892d6231912dcc8e7088be318",
    ]
    blobs = [
      "sha256:700192dd43e8c3e78403859bd5fed498489be77b11a09fbb645118a5698c802d",
      "sha256:7da790f55816f567f2ae15bbe07556242ca84da47ad80372a96f7fc3b4235e85",
    ]
  }
}
