package export

import (
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/export/compress"
)

// Output is a parsed --output spec, as BuildKit and buildx spell them:
// type=oci,dest=DIR|FILE.tar[,name=REF], type=docker,dest=FILE.tar,name=REF,
// type=registry,name=REF[,push=true][,registry.insecure=true],
// type=local,dest=DIR, type=tar,dest=FILE|-.
type Output struct {
	Type string // oci, docker, registry, local, tar
	Dest string
	// Names are the image references (name=a,b is quoted in CSV:
	// "name=a,b").
	Names    []string
	Insecure bool
	// Tar writes an OCI layout as a tar file; it defaults to a dest ending
	// in .tar and can be set with tar=true|false.
	Tar bool
	// Compression options as in BuildKit; CompressionSet tells whether the
	// spec named a compression, so the image block's can apply otherwise.
	Compression      compress.Type
	CompressionSet   bool
	CompressionLevel int
	ForceCompression bool
	// Force replaces an existing destination (force=true); without it an
	// existing destination is an error.
	Force bool
	// Sync (sync=true) flushes the output to disk before it takes its
	// name, so that it survives a power cut. Without it an output is
	// still atomic against kiln failing (written aside, then renamed),
	// and reaches the disk when the kernel writes it back, as tar's and
	// BuildKit's do (docs/store.md).
	Sync bool
	// PlatformSplit puts each platform's files in its own directory
	// (local and tar; default true, as buildx).
	PlatformSplit bool
	// PreserveOwnership (type=local, preserve-ownership=true) gives the
	// files their recorded owner and group and keeps setuid and setgid
	// bits. Off, the files belong to whoever runs kiln and lose those
	// bits, as with buildx's local exporter: a local export must not plant
	// a setuid-root binary on the host.
	PreserveOwnership bool
}

// ParseOption changes how ParseOutput reads a spec.
type ParseOption func(*Output)

// DefaultNames names the image when the spec has no name=, as an image
// block's tags do (buildx gives an output without name= the -t tags the
// same way). It must come before the checks: type=registry needs a name.
func DefaultNames(names []string) ParseOption {
	return func(o *Output) {
		if len(o.Names) == 0 {
			o.Names = slices.Clone(names)
		}
	}
}

// ParseOutput parses one --output spec. Unknown types and keys are errors
// that name them.
func ParseOutput(spec string, opts ...ParseOption) (Output, error) {
	o, err := parseOutput(spec, opts)
	if err != nil {
		return Output{}, fmt.Errorf("output %q: %w", spec, err)
	}
	return o, nil
}

// IsKey reports whether k (in any case) is a spec key, such as type or
// dest: -o TARGET=SPEC tells a target from a key by it.
func IsKey(k string) bool {
	k = strings.ToLower(k)
	_, ok := outputKeys[k]
	return ok || k == "type"
}

func parseOutput(spec string, opts []ParseOption) (Output, error) {
	kv, order, err := splitSpec(spec)
	if err != nil {
		return Output{}, err
	}
	o := Output{Type: kv["type"], PlatformSplit: true, Compression: compress.Gzip}
	e, ok := exporterOf(o.Type)
	if !ok {
		return Output{}, fmt.Errorf("unknown type %q (want %s)", o.Type, typesOf[Exporter](""))
	}
	keys := e.Keys()
	for _, k := range order {
		if k == "type" {
			continue
		}
		if !slices.Contains(keys, k) {
			return Output{}, fmt.Errorf("unknown key %q for type=%s (known: %s)", k, o.Type, strings.Join(keys, ", "))
		}
		if err := outputKeys[k](&o, k, kv[k]); err != nil {
			return Output{}, err
		}
	}
	if o.CompressionLevel != 0 {
		if _, err := compress.Level(o.Compression, o.CompressionLevel); err != nil {
			return Output{}, err
		}
	}
	for _, opt := range opts {
		opt(&o)
	}
	given := func(k string) bool { _, ok := kv[k]; return ok }
	if err := e.Check(&o, given); err != nil {
		return Output{}, err
	}
	return o, nil
}

// splitSpec splits a spec's CSV fields into keys (lower-cased) and values,
// and lists the keys in the order given.
func splitSpec(spec string) (map[string]string, []string, error) {
	fields, err := csv.NewReader(strings.NewReader(spec)).Read()
	if err != nil {
		return nil, nil, err
	}
	kv := map[string]string{}
	var order []string
	for _, f := range fields {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return nil, nil, fmt.Errorf("%q is not key=value", f)
		}
		k = strings.ToLower(k)
		if _, dup := kv[k]; dup {
			return nil, nil, fmt.Errorf("key %q given twice", k)
		}
		kv[k] = v
		order = append(order, k)
	}
	return kv, order, nil
}

// keyParser sets what the value v of key k says on o.
type keyParser func(o *Output, k, v string) error

// outputKeys parse every spec key but type=; each Exporter's Keys say
// which of them its type takes.
var outputKeys = map[string]keyParser{
	"dest": func(o *Output, _, v string) error { o.Dest = v; return nil },
	"name": func(o *Output, _, v string) error {
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				o.Names = append(o.Names, n)
			}
		}
		return nil
	},
	"push": func(o *Output, k, v string) error {
		push, err := parseBool(k, v)
		if err == nil && !push {
			err = fmt.Errorf("type=%s always pushes; to keep the image locally use type=oci", o.Type)
		}
		return err
	},
	"registry.insecure":  boolKey(func(o *Output) *bool { return &o.Insecure }),
	"tar":                boolKey(func(o *Output) *bool { return &o.Tar }),
	"force-compression":  boolKey(func(o *Output) *bool { return &o.ForceCompression }),
	"force":              boolKey(func(o *Output) *bool { return &o.Force }),
	"sync":               boolKey(func(o *Output) *bool { return &o.Sync }),
	"platform-split":     boolKey(func(o *Output) *bool { return &o.PlatformSplit }),
	"preserve-ownership": boolKey(func(o *Output) *bool { return &o.PreserveOwnership }),
	"compression": func(o *Output, _, v string) error {
		c, err := compress.ParseType(v)
		if err != nil {
			return err
		}
		o.Compression, o.CompressionSet = c, true
		return nil
	},
	"compression-level": func(o *Output, k, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s=%q is not a number", k, v)
		}
		o.CompressionLevel = n
		return nil
	},
}

// boolKey parses a true|false key into the field field returns.
func boolKey(field func(*Output) *bool) keyParser {
	return func(o *Output, k, v string) error {
		b, err := parseBool(k, v)
		if err != nil {
			return err
		}
		*field(o) = b
		return nil
	}
}

func parseBool(k, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q is not true or false", k, v)
	}
	return b, nil
}

// needDest, needName and noStdout are the checks the exporters share.
func needDest(o *Output) error {
	if o.Dest == "" {
		return fmt.Errorf("type=%s needs dest=", o.Type)
	}
	return nil
}

func needName(o *Output) error {
	if len(o.Names) == 0 {
		return fmt.Errorf("type=%s needs name=REF", o.Type)
	}
	return nil
}

func noStdout(o *Output) error {
	if o.Dest == "-" {
		return errors.New("dest=- (stdout) is only for type=tar")
	}
	return nil
}

// LayerCompression returns the layer compression the output asks for.
func (o Output) LayerCompression() Compression {
	return Compression{Type: o.Compression, Level: o.CompressionLevel, Force: o.ForceCompression}
}
