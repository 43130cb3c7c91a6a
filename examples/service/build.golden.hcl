# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

image "app" {
  manifest "linux/amd64" "gzip" {
    digest = "sha256:f8b0035c0dbce679d1778c3d1aa1df89b80d9740175b2622b8953361e519e24a"
    config = "sha256:f7079700c7fc1994e939fbe0d6916db8645a9a55fdccec7c02fca55b3cdc9198"
    diff_ids = [
      "sha256:2c6100a178515c4cbec03233381475bc0228f567ea618975fff6f776aa63b998",
      "sha256:b3d9e473a339b4803f1a133e11405fd064913d33e664a603e71e21264c9848b8",
      "sha256:b6507cd8184dd143d50903d5c989cf10de4c029436076549111f74cc59e8309a",
      "sha256:9d19166b4cf0a697dac685e9fc3fc84723bc2cd820aec6b0ffc1b3aafd1e4a37",
    ]
    blobs = [
      "sha256:35bfa6514bc3ad83af44d74d1ede5e983105137a09f4b520493bea864b8be33e",
      "sha256:87df461281bf77c89b6dcd1f1e33c1c3fa0b151866ecaa5d3b964695f799e87d",
      "sha256:62b3eca83b4e2fcd33a81012fff1252d6338e97d41c88b562e8d3290670c9074",
      "sha256:22da27b211272b2617cc7932d8682615c8759bc26f0676a4b59b8f6b17b57179",
    ]
  }
}
