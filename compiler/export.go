package compiler

import (
	"maps"
	"slices"

	"github.com/kiln-build/kiln/lang"
)

// Export is how a target leaves the store: the outputs its block declares
// and, for an image, the config it sets over its base. It is lowered here
// so that export needs no evaluated configuration. None of it is part of a
// derivation: an export setting changes an output, never a state, so
// changing one rebuilds nothing.
type Export struct {
	// Outputs are the --output specs declared in the block, as written:
	// relative dests are relative to the build file's folder.
	Outputs []string
	// Image is an image target's settings; nil for artifacts and stages.
	Image *ImageConfig
	// Paths limit an artifact to these paths inside its state; empty
	// means the whole state.
	Paths []string
}

// ImageConfig is an image block's settings, applied over the base image's
// config, and the layer compression it asks for.
type ImageConfig struct {
	Entrypoint  []string
	Cmd         []string
	Env         map[string]string
	Workdir     string
	User        string
	Labels      map[string]string
	Annotations map[string]string
	Expose      []string
	Volumes     []string
	StopSignal  string
	Squash      bool
	// Healthcheck, Shell and OnBuild are docker's config fields of the
	// same names (HEALTHCHECK, SHELL, ONBUILD); nil keeps the base's.
	Healthcheck *Healthcheck
	Shell       []string
	OnBuild     []string
	// Tags name the image in registry, docker and oci outputs whose spec
	// gives no name=.
	Tags []string

	// Compression is the layer compression named in the block ("" when
	// none is: the output's or the default applies), and
	// CompressionLevel its level (0: the compression's default). They
	// are checked when exported, like an --output's.
	Compression      string
	CompressionLevel int

	// Attest are the block's --attest specs, checked by lang; the
	// command line's replace them type by type.
	Attest []string
}

// Healthcheck is an image's healthcheck; durations in seconds, 0 meaning
// docker's default.
type Healthcheck struct {
	Test                                    []string
	IntervalSec, TimeoutSec, StartPeriodSec int64
	Retries                                 int64
}

// lowerExports gives each image and artifact target its export settings.
func (c *compiler) lowerExports(targets []*Target) {
	for _, t := range targets {
		switch t.Kind {
		case "image":
			for _, i := range c.cfg.Images {
				if i.Name == t.Name {
					t.Export = imageExport(i)
				}
			}
		case "artifact":
			for _, a := range c.cfg.Artifacts {
				if a.Name == t.Name {
					t.Export = &Export{Outputs: slices.Clone(a.Outputs), Paths: slices.Clone(a.Paths)}
				}
			}
		}
	}
}

// imageExport copies the block's settings, so that a graph shares nothing
// with the configuration it was compiled from. A nil slice stays nil: an
// unset entrypoint or cmd means "keep the base's".
func imageExport(i *lang.Image) *Export {
	level := 0
	if i.CompressionLevel != nil {
		level = *i.CompressionLevel
	}
	return &Export{
		Outputs: slices.Clone(i.Outputs),
		Image: &ImageConfig{
			Entrypoint: slices.Clone(i.Entrypoint), Cmd: slices.Clone(i.Cmd), Env: maps.Clone(i.Env),
			Workdir: i.Workdir, User: i.User, Labels: maps.Clone(i.Labels), Annotations: maps.Clone(i.Annotations),
			Expose: slices.Clone(i.Expose), Volumes: slices.Clone(i.Volumes), StopSignal: i.StopSignal, Squash: i.Squash,
			Tags: slices.Clone(i.Tags), Compression: i.Compression, CompressionLevel: level, Attest: slices.Clone(i.Attest),
			Healthcheck: healthcheck(i.Healthcheck), Shell: slices.Clone(i.Shell), OnBuild: slices.Clone(i.OnBuild),
		},
	}
}

func healthcheck(h *lang.Healthcheck) *Healthcheck {
	if h == nil {
		return nil
	}
	return &Healthcheck{Test: slices.Clone(h.Test), IntervalSec: h.IntervalSec, TimeoutSec: h.TimeoutSec, StartPeriodSec: h.StartSec, Retries: h.Retries}
}
