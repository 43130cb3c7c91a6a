// Package dockerimport translates a Dockerfile into an equivalent
// build.hcl, for `kiln import`.
//
// The Dockerfile is read with BuildKit's own parser and instruction
// packages (github.com/moby/buildkit/frontend/dockerfile/parser and
// .../instructions), so that what is accepted, and how words, flags,
// heredocs and line continuations are split, is exactly what `docker
// build` does. Each stage becomes a stage block, each external FROM
// image a source that `kiln lock` pins, each ARG a variable, and the
// config instructions of the target stage (ENV, WORKDIR, USER, EXPOSE,
// LABEL, ENTRYPOINT, CMD, VOLUME, STOPSIGNAL, SHELL, HEALTHCHECK,
// ONBUILD) an image block.
//
// What has no equivalent is never dropped silently: it is returned as a
// Note with its Dockerfile line, which the CLI prints, and written as a
// comment where it would have gone. The package writes text only; it
// neither loads nor compiles the result (the CLI and the tests do).
package dockerimport
