package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Metadata is what --metadata-file records about one export, with
// BuildKit's keys for images (containerimage.digest, .config.digest,
// .descriptor, image.name) and artifact.sha256 for files.
type Metadata map[string]any

// AssembleOptions returns how to assemble an image for the output: its
// layer compression, and docker media types for docker archives.
func (o Output) AssembleOptions() AssembleOptions {
	if e, ok := exporterOf(o.Type); ok {
		if ie, ok := e.(ImageExporter); ok {
			return ie.AssembleOptions(o)
		}
	}
	return AssembleOptions{Compression: o.LayerCompression()}
}

// ExportImage writes img, assembled with o.AssembleOptions(), to the
// output. epoch stamps the entries of tar outputs.
func ExportImage(ctx context.Context, o Output, store BlobStore, img *Image, epoch int64) (Metadata, error) {
	if img == nil || len(img.Manifests) == 0 {
		return nil, errors.New("exporting image: nothing to export")
	}
	md := Metadata{
		"containerimage.digest":     img.Descriptor.Digest.String(),
		"containerimage.descriptor": img.Descriptor,
	}
	if len(img.Manifests) == 1 {
		md["containerimage.config.digest"] = img.Manifests[0].ConfigDesc.Digest.String()
	}
	if len(o.Names) > 0 {
		md["image.name"] = joinNames(o.Names)
	}
	e, _ := exporterOf(o.Type)
	ie, ok := e.(ImageExporter)
	if !ok {
		return nil, fmt.Errorf("type=%s does not export images (want %s)", o.Type, ImageTypes(""))
	}
	if err := ie.ExportImage(ctx, o, store, img, epoch); err != nil {
		return nil, fmt.Errorf("exporting image to type=%s: %w", o.Type, err)
	}
	return md, nil
}

func joinNames(ns []string) string {
	s := ""
	for i, n := range sortedUnique(ns) {
		if i > 0 {
			s += ","
		}
		s += n
	}
	return s
}

// Files is one platform's files of an artifact or state: a tar stream, as
// the layer package writes them.
type Files struct {
	Platform ocispec.Platform
	Open     func() (io.ReadCloser, error)
}

// ExportFiles writes files to a local or tar output; stdout receives
// dest=-. With several platforms and platform-split (the default) each
// platform's files go under a directory named like linux_amd64.
func ExportFiles(ctx context.Context, o Output, files []Files, stdout io.Writer, epoch int64) (Metadata, error) {
	if len(files) == 0 {
		return nil, errors.New("exporting files: nothing to export")
	}
	files = append([]Files(nil), files...)
	sort.Slice(files, func(i, j int) bool { return FormatPlatform(files[i].Platform) < FormatPlatform(files[j].Platform) })
	split := o.PlatformSplit && len(files) > 1
	e, _ := exporterOf(o.Type)
	fe, ok := e.(FilesExporter)
	if !ok {
		return nil, fmt.Errorf("type=%s does not export files (want %s)", o.Type, FilesTypes(""))
	}
	sums, err := fe.ExportFiles(ctx, o, FilesJob{Files: files, Split: split, Stdout: stdout, Epoch: epoch})
	if err != nil {
		return nil, fmt.Errorf("exporting files to type=%s: %w", o.Type, err)
	}
	md := Metadata{}
	if sums.Tar != "" {
		md["artifact.tar.sha256"] = sums.Tar
	}
	md["artifact.sha256"] = sums.Platforms
	return md, nil
}

func mkdirMode(p string) error {
	if err := os.Mkdir(p, 0o755); err != nil {
		return err
	}
	return os.Chmod(p, 0o755)
}
