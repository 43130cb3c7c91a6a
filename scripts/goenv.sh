# Sourced by every script that builds or tests kiln. kiln filters each
# build step's system calls with seccomp through libcontainer, which needs
# cgo, libseccomp (scripts/deps.sh installs libseccomp-dev and pkg-config)
# and the seccomp build tag; a kiln built without them refuses to run
# steps. POSIX sh, as bench/realize.sh sources it too.
export CGO_ENABLED=1
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=seccomp"
