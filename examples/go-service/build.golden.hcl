# This file is maintained by kiln golden update. Do not edit it by hand.
# It records the digests of this project's outputs; kiln golden check
# fails when a build no longer produces them.

version = 1

image "service" {
  manifest "linux/amd64" "gzip" {
    digest = "sha256:c4bc476133f46a06560d48dd6a52cde47841b3f7fd7319a3757b1ebd8c3d22f9"
    config = "sha256:38de374e3459b718ad8bb47ca46c72715ac7b75cf80b5f6bdadfc0dac39433f4"
    diff_ids = [
      "sha256:b26214fbf962f80c59a9e848f92dd55ec315aaf842cf8550adca207a036b6733",
      "sha256:d15d91503fb5ca922f7b9a9919036f9ba7a3a427d3af5be30eb97a61c904fddc",
      "sha256:1d920da0f49650d10d7f34089a6828802a278ec6da688a0fb67a1d1cad53e001",
    ]
    blobs = [
      "sha256:52b41eef024d5e2a2beab2edbc23c666da638a59b06958780d35d68d144a52a6",
      "sha256:b33af73429f04bb451ad525beef439d6c2adcf1a22241580d35b2873c7a811fa",
      "sha256:a09820439aa56a7ed40a348eb1a2d319a25846bcc4a0ef12d27caff8a29131ac",
    ]
  }
}
