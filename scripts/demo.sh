#!/usr/bin/env bash
# kiln's main job on a real example: build the multi-stage service image
# from examples/service, export it as an OCI layout, and print its digest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
. scripts/goenv.sh
go build -o bin/kiln ./cmd/kiln
go build -o bin/kiln-init ./cmd/kiln-init
# The BuildKit helper is not needed here: the demo builds in kiln's own
# sandbox (add `go build -o bin/kiln-buildkit ./cmd/kiln-buildkit` for
# --buildkit).
examples/base/mkrootfs.sh
export KILN_STORE="${KILN_STORE:-$PWD/.kiln-store}"
mkdir -p out
cd examples/service
../../bin/kiln build --progress plain app --output type=oci,dest=../../out/service.oci --force --metadata-file ../../out/service.json
echo
echo "image digest: $(sed -n 's/.*"containerimage.digest": *"\([^"]*\)".*/\1/p' ../../out/service.json)"
