# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

image "hello" {
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
}
