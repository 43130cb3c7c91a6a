package export

import (
	"context"
	"io"
	"strings"
)

// Exporter is one output type, the type= of an --output spec. Each type
// lives in its own file and is listed once, in exporters.
type Exporter interface {
	// Type is the output's type= value.
	Type() string
	// Keys are the spec keys the type takes besides type=, in the order
	// an unknown key's error lists them. outputKeys parses each.
	Keys() []string
	// Check completes a parsed output with the defaults that depend on
	// other keys and says what it lacks. given reports whether the spec
	// named a key.
	Check(o *Output, given func(key string) bool) error
}

// An ImageExporter writes assembled images.
type ImageExporter interface {
	Exporter
	// AssembleOptions says how an image is assembled for the output.
	AssembleOptions(o Output) AssembleOptions
	// ExportImage writes img, assembled with AssembleOptions(o), to the
	// output. epoch stamps the entries of tar outputs.
	ExportImage(ctx context.Context, o Output, store BlobStore, img *Image, epoch int64) error
}

// A FilesExporter writes the files of states.
type FilesExporter interface {
	Exporter
	// ExportFiles writes the files of job to the output.
	ExportFiles(ctx context.Context, o Output, job FilesJob) (FileSums, error)
}

// FilesJob is what a FilesExporter writes.
type FilesJob struct {
	// Files are sorted by platform.
	Files []Files
	// Split puts each platform's files under a directory named like
	// linux_amd64.
	Split bool
	// Stdout receives dest=-.
	Stdout io.Writer
	// Epoch stamps the entries the exporter adds (platform directories).
	Epoch int64
}

// FileSums are the sha256 digests of what a FilesExporter wrote: each
// platform's tar by platform and, when it wrote one tar of them all, Tar.
type FileSums struct {
	Platforms map[string]string
	Tar       string
}

// exporters are every output type, in the order messages list them. A new
// type is one file implementing ImageExporter or FilesExporter and one
// entry here.
var exporters = []Exporter{
	ociExporter{},
	dockerExporter{},
	registryExporter{},
	localExporter{},
	tarExporter{},
}

// exporterOf returns the exporter of an output type.
func exporterOf(typ string) (Exporter, bool) {
	for _, e := range exporters {
		if e.Type() == typ {
			return e, true
		}
	}
	return nil, false
}

// typesOf lists the types of the exporters that are a T, as "a, b or c",
// each with prefix in front.
func typesOf[T Exporter](prefix string) string {
	var names []string
	for _, e := range exporters {
		if _, ok := e.(T); ok {
			names = append(names, prefix+e.Type())
		}
	}
	return orList(names)
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ImageTypes lists the output types that export images, as "a, b or c",
// each with prefix in front (prefix "type=" gives "type=oci, ...").
func ImageTypes(prefix string) string { return typesOf[ImageExporter](prefix) }

// FilesTypes lists the output types that export files, like ImageTypes.
func FilesTypes(prefix string) string { return typesOf[FilesExporter](prefix) }

// ExportsImages reports whether the output type writes images (and so
// needs an image target).
func ExportsImages(typ string) bool {
	e, ok := exporterOf(typ)
	if !ok {
		return false
	}
	_, ok = e.(ImageExporter)
	return ok
}
