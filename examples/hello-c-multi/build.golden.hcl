# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

image "hello" {
  index "gzip" {
    digest = "sha256:3d8a6a0829c865f9c5a10b87bdb893097b979674bfcf815b87770f49c0b89bbb"
  }

  manifest "linux/amd64" "gzip" {
    digest = "sha256:c84fb87ecbf06b4f2bfe6e1084429b01c64f8f0828faf35a5c5568e414b2d5db"
    config = "sha256:a78fd7db6c3839b2a3ef04fc012a5420126a6e673ca749a99d6b9e5dadd82f77"
    diff_ids = [
      "sha256:c0d40c9c53a7c6ed64362767b23913102982a5bbe7a80f59900ed96e950f2a30",
      "sha256:7fea7ddf14a2d9d8f403540e23fa84f8d413bed415417cecb13076b088f636f5",
    ]
    blobs = [
      "sha256:a368d0d05f111f40b9e97c0dcaa956289e360fe19188dea42060aef8cefa1365",
      "sha256:9b3ced11f1c091b834b70544cfca737debb9a69a7f15761c19e843e890f2adb4",
    ]
  }

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
