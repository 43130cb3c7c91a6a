package export

import (
	"encoding/csv"
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

var outputKeys = map[string][]string{
	"oci":      {"dest", "name", "tar", "compression", "compression-level", "force-compression", "force"},
	"docker":   {"dest", "name", "compression", "compression-level", "force-compression", "force"},
	"registry": {"name", "push", "registry.insecure", "compression", "compression-level", "force-compression"},
	"local":    {"dest", "force", "platform-split", "preserve-ownership"},
	"tar":      {"dest", "force", "platform-split"},
}

// ParseOutput parses one --output spec. Unknown types and keys are errors
// that name them.
func ParseOutput(spec string) (Output, error) {
	r := csv.NewReader(strings.NewReader(spec))
	fields, err := r.Read()
	if err != nil {
		return Output{}, fmt.Errorf("output %q: %w", spec, err)
	}
	kv := map[string]string{}
	var order []string
	for _, f := range fields {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return Output{}, fmt.Errorf("output %q: %q is not key=value", spec, f)
		}
		k = strings.ToLower(k)
		if _, dup := kv[k]; dup {
			return Output{}, fmt.Errorf("output %q: key %q given twice", spec, k)
		}
		kv[k] = v
		order = append(order, k)
	}
	o := Output{Type: kv["type"], PlatformSplit: true, Compression: compress.Gzip}
	keys, ok := outputKeys[o.Type]
	if !ok {
		return Output{}, fmt.Errorf("output %q: unknown type %q (want oci, docker, registry, local or tar)", spec, o.Type)
	}
	boolOf := func(k string) (bool, error) {
		b, err := strconv.ParseBool(kv[k])
		if err != nil {
			return false, fmt.Errorf("output %q: %s=%q is not true or false", spec, k, kv[k])
		}
		return b, nil
	}
	for _, k := range order {
		if k == "type" {
			continue
		}
		if !slices.Contains(keys, k) {
			return Output{}, fmt.Errorf("output %q: unknown key %q for type=%s (known: %s)", spec, k, o.Type, strings.Join(keys, ", "))
		}
		v := kv[k]
		switch k {
		case "dest":
			o.Dest = v
		case "name":
			for n := range strings.SplitSeq(v, ",") {
				if n = strings.TrimSpace(n); n != "" {
					o.Names = append(o.Names, n)
				}
			}
		case "push":
			push, err := boolOf(k)
			if err != nil {
				return Output{}, err
			}
			if !push {
				return Output{}, fmt.Errorf("output %q: type=registry always pushes; to keep the image locally use type=oci", spec)
			}
		case "registry.insecure":
			if o.Insecure, err = boolOf(k); err != nil {
				return Output{}, err
			}
		case "tar":
			if o.Tar, err = boolOf(k); err != nil {
				return Output{}, err
			}
		case "compression":
			if o.Compression, err = compress.ParseType(v); err != nil {
				return Output{}, fmt.Errorf("output %q: %w", spec, err)
			}
			o.CompressionSet = true
		case "compression-level":
			if o.CompressionLevel, err = strconv.Atoi(v); err != nil {
				return Output{}, fmt.Errorf("output %q: compression-level=%q is not a number", spec, v)
			}
		case "force-compression":
			if o.ForceCompression, err = boolOf(k); err != nil {
				return Output{}, err
			}
		case "force":
			if o.Force, err = boolOf(k); err != nil {
				return Output{}, err
			}
		case "platform-split":
			if o.PlatformSplit, err = boolOf(k); err != nil {
				return Output{}, err
			}
		case "preserve-ownership":
			if o.PreserveOwnership, err = boolOf(k); err != nil {
				return Output{}, err
			}
		}
	}
	if _, ok := kv["tar"]; !ok && o.Type == "oci" {
		o.Tar = strings.HasSuffix(o.Dest, ".tar")
	}
	if o.CompressionLevel != 0 {
		if _, err := compress.Level(o.Compression, o.CompressionLevel); err != nil {
			return Output{}, fmt.Errorf("output %q: %w", spec, err)
		}
	}
	switch {
	case o.Type != "registry" && o.Dest == "":
		return Output{}, fmt.Errorf("output %q: type=%s needs dest=", spec, o.Type)
	case (o.Type == "registry" || o.Type == "docker") && len(o.Names) == 0:
		return Output{}, fmt.Errorf("output %q: type=%s needs name=REF", spec, o.Type)
	case o.Dest == "-" && o.Type != "tar":
		return Output{}, fmt.Errorf("output %q: dest=- (stdout) is only for type=tar", spec)
	}
	return o, nil
}

// LayerCompression returns the layer compression the output asks for.
func (o Output) LayerCompression() Compression {
	return Compression{Type: o.Compression, Level: o.CompressionLevel, Force: o.ForceCompression}
}
