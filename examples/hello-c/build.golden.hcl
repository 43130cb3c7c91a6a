# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

image "hello" {
  manifest "linux/amd64" "gzip" {
    digest = "sha256:4808b504828630516344ea5816ebddf769b25b1b5b8125cac1914a7d5e070e78"
    config = "sha256:06d12f531ae05cf142f2145d88fef894c6c384a6e61b843d398d4fc6769e704b"
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
