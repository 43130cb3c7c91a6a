package targets

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
	"github.com/kiln-build/kiln/store"
)

// Build is what a build leaves for export: the store holding its states
// and the graph that says how each was made.
type Build struct {
	Store *store.Store
	Graph *compiler.Graph
	// Epoch is SOURCE_DATE_EPOCH: it dates images and stamps the entries
	// of tar outputs.
	Epoch int64
}

// Request is one export of a build's targets.
type Request struct {
	Build
	// Specs are --output specs. They apply to one target only; when
	// empty, each target's declared outputs apply.
	Specs []string
	// Dir is the build file's folder: the relative dests of declared
	// outputs are under it (those of Specs are relative to the working
	// directory).
	Dir string
	// Force replaces existing destinations, as force=true in every spec.
	Force bool
	// Stdout receives type=tar,dest=-.
	Stdout io.Writer
	// Exported, when set, hears of each output once it is written.
	Exported func(t *compiler.Target, o export.Output)
}

// UsageError is an export the request got wrong (a bad output spec, one
// spec for several targets, an image output of a non-image): the command
// line, not the build, has to change.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// Export writes each target's outputs and returns the metadata of every
// export (BuildKit's keys and kiln.source_date_epoch), by target address.
func Export(ctx context.Context, req Request) (map[string]export.Metadata, error) {
	if len(req.Specs) > 0 && len(req.Graph.Targets) > 1 {
		return nil, usageErrorf("--output applies to one target; %d were given (declare outputs in their blocks instead)", len(req.Graph.Targets))
	}
	all := map[string]export.Metadata{}
	for _, t := range req.Graph.Targets {
		md, err := req.exportTarget(ctx, t)
		if err != nil {
			return nil, err
		}
		md["kiln.source_date_epoch"] = req.Epoch
		all[t.Address] = md
	}
	return all, nil
}

// exportTarget writes one target's outputs, the given specs or else its
// declared ones.
func (req Request) exportTarget(ctx context.Context, t *compiler.Target) (export.Metadata, error) {
	specs := req.Specs
	if len(specs) == 0 {
		specs = declared(t)
	}
	md := export.Metadata{}
	for _, spec := range specs {
		o, err := export.ParseOutput(spec)
		if err != nil {
			return nil, &UsageError{err}
		}
		if req.Force {
			o.Force = true
		}
		if o.Dest != "" && o.Dest != "-" && !path.IsAbs(o.Dest) && len(req.Specs) == 0 {
			o.Dest = req.Dir + "/" + o.Dest
		}
		var m export.Metadata
		if export.ExportsImages(o.Type) {
			if t.Kind != "image" {
				return nil, usageErrorf("%s is not an image: export it with %s", t.Address, export.FilesTypes("type="))
			}
			m, err = req.exportImage(ctx, t, o)
		} else {
			m, err = req.ExportFiles(ctx, t, o, req.Stdout)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Address, err)
		}
		for k, v := range m {
			md[k] = v
		}
		if req.Exported != nil {
			req.Exported(t, o)
		}
	}
	return md, nil
}

// declared returns the outputs the target's block declares.
func declared(t *compiler.Target) []string {
	if t.Export == nil {
		return nil
	}
	return t.Export.Outputs
}

func (b Build) exportImage(ctx context.Context, t *compiler.Target, o export.Output) (export.Metadata, error) {
	built, o, err := b.AssembleImage(t, o)
	if err != nil {
		return nil, err
	}
	return export.ExportImage(ctx, o, b.Store, built, b.Epoch)
}

// WritesStdout reports whether any output of the targets, given as specs
// or else declared, writes to standard output (type=tar,dest=-).
func WritesStdout(targets []*compiler.Target, specs []string) bool {
	for _, t := range targets {
		outs := specs
		if len(outs) == 0 {
			outs = declared(t)
		}
		for _, spec := range outs {
			if o, err := export.ParseOutput(spec); err == nil && o.Dest == "-" {
				return true
			}
		}
	}
	return false
}

// Describe says where an output goes: its type and dest, or its names.
func Describe(o export.Output) string {
	if o.Dest != "" {
		return "type=" + o.Type + " " + o.Dest
	}
	return "type=" + o.Type + " " + strings.Join(o.Names, ",")
}

// MetadataJSON encodes the metadata of exports as --metadata-file holds
// it: BuildKit's keys, flat for one target, by target address for several.
func MetadataJSON(all map[string]export.Metadata) ([]byte, error) {
	var v any = all
	if len(all) == 1 {
		for _, m := range all {
			v = m
		}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
