package targets

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	// Evidence is what images' attestations say about the build.
	Evidence Evidence
}

// Request is one export of a build's targets.
type Request struct {
	Build
	// Specs are --output specs, each for every target or, written
	// TARGET=SPEC, for one. A target no spec applies to gets its
	// declared outputs.
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

// UsageError is an export the request got wrong (a bad output spec, two
// outputs sharing a destination, an image output of a non-image): the command
// line, not the build, has to change.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// Check resolves every output of the request and says, before anything
// is built, what would make an export fail: a bad spec, an image output
// of a non-image, two outputs sharing a destination, a destination that
// exists (without force) or whose folder cannot be made.
func Check(req Request) error {
	ps, err := req.plan()
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := check(p.o); err != nil {
			return fmt.Errorf("%s: %w", p.t.Address, err)
		}
	}
	return nil
}

// Export writes each target's outputs and returns the metadata of every
// export (BuildKit's keys and kiln.source_date_epoch), by target address.
// Each target gets the specs given for every target and those given for
// it (-o TARGET=SPEC), else the outputs its block declares.
func Export(ctx context.Context, req Request) (map[string]export.Metadata, error) {
	ps, err := req.plan()
	if err != nil {
		return nil, err
	}
	all := map[string]export.Metadata{}
	for _, t := range req.Graph.Targets {
		all[t.Address] = export.Metadata{"kiln.source_date_epoch": req.Epoch}
	}
	for _, p := range ps {
		m, err := req.exportOne(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.t.Address, err)
		}
		addExport(all[p.t.Address], p.o, m)
		if req.Exported != nil {
			req.Exported(p.t, p.o)
		}
	}
	return all, nil
}

// addExport records one export's metadata in its target's: the keys flat,
// as BuildKit's exporters give them (a later export's replace an
// earlier's), and each export whole under kiln.exports, in the order of
// the outputs, so that none is lost when a target has several. Like
// BuildKit's keys they say what was written, not where: the same build
// exported elsewhere gives the same metadata.
func addExport(md export.Metadata, o export.Output, m export.Metadata) {
	one := export.Metadata{"type": o.Type}
	for k, v := range m {
		md[k] = v
		one[k] = v
	}
	list, _ := md["kiln.exports"].([]export.Metadata)
	md["kiln.exports"] = append(list, one)
}

// exportOne writes one output.
func (req Request) exportOne(ctx context.Context, p planned) (export.Metadata, error) {
	if err := makeParent(p.o); err != nil {
		return nil, err
	}
	if export.ExportsImages(p.o.Type) {
		return req.exportImage(ctx, p.t, p.o)
	}
	return req.ExportFiles(ctx, p.t, p.o, req.Stdout)
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
// (-o [TARGET=]SPEC) or else declared, writes to standard output
// (type=tar,dest=-).
func WritesStdout(targets []*compiler.Target, specs []string) bool {
	given := make([]targetSpec, len(specs))
	for i, s := range specs {
		given[i] = splitTargetSpec(s)
	}
	for _, t := range targets {
		outs, _ := specsFor(t, given)
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
