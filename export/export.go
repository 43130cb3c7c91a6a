package export

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Metadata is what --metadata-file records about one export, with
// BuildKit's keys for images (containerimage.digest, .config.digest,
// .descriptor, image.name) and artifact.sha256 for files.
type Metadata map[string]any

// AssembleOptions returns how to assemble an image for the output: docker
// archives need docker media types.
func (o Output) AssembleOptions() AssembleOptions {
	return AssembleOptions{Compression: o.LayerCompression(), DockerMediaTypes: o.Type == "docker"}
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
	var err error
	switch o.Type {
	case "oci":
		if img.Docker {
			return nil, errors.New("type=oci: image was assembled with docker media types")
		}
		var s fileSet
		if s, err = ociLayout(store, img, o.Names); err != nil {
			return nil, fmt.Errorf("type=oci: %w", err)
		}
		err = atomically(o.Dest, o.Force, func(tmp string) error {
			if o.Tar {
				return writeTarFile(tmp, s, epoch)
			}
			return s.writeDir(tmp)
		})
	case "docker":
		var s fileSet
		if s, err = dockerArchive(store, img, o.Names); err != nil {
			return nil, fmt.Errorf("type=docker: %w", err)
		}
		err = atomically(o.Dest, o.Force, func(tmp string) error { return writeTarFile(tmp, s, epoch) })
	case "registry":
		err = push(ctx, o, store, img)
	default:
		return nil, fmt.Errorf("type=%s does not export images (want oci, docker or registry)", o.Type)
	}
	if err != nil {
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
	sums := map[string]string{}
	var err error
	switch o.Type {
	case "local":
		err = atomically(o.Dest, o.Force, func(tmp string) error {
			if err := mkdirMode(tmp); err != nil {
				return err
			}
			for _, f := range files {
				sub := ""
				if split {
					sub = platformDir(f.Platform)
				}
				sum, err := extract(ctx, tmp, sub, f, o)
				if err != nil {
					return err
				}
				sums[FormatPlatform(f.Platform)] = sum
			}
			return nil
		})
	case "tar":
		write := func(w io.Writer) error {
			h := sha256.New()
			if err := writeFilesTar(io.MultiWriter(w, h), files, split, epoch, sums); err != nil {
				return err
			}
			sums["tar"] = hex.EncodeToString(h.Sum(nil))
			return nil
		}
		if o.Dest == "-" {
			if stdout == nil {
				return nil, errors.New("type=tar,dest=-: no standard output to write to")
			}
			err = write(stdout)
		} else {
			err = atomically(o.Dest, o.Force, func(tmp string) error {
				f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil {
					return err
				}
				if err := write(f); err != nil {
					f.Close()
					return err
				}
				if err := f.Chmod(0o644); err != nil {
					f.Close()
					return err
				}
				return f.Close()
			})
		}
	default:
		return nil, fmt.Errorf("type=%s does not export files (want local or tar)", o.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("exporting files to type=%s: %w", o.Type, err)
	}
	md := Metadata{}
	if t, ok := sums["tar"]; ok {
		md["artifact.tar.sha256"] = t
		delete(sums, "tar")
	}
	md["artifact.sha256"] = sums
	return md, nil
}

func mkdirMode(p string) error {
	if err := os.Mkdir(p, 0o755); err != nil {
		return err
	}
	return os.Chmod(p, 0o755)
}

// writeFilesTar writes one platform's tar as it is, byte for byte, and
// several platforms' tars as one; split, every name gets the platform's
// directory in front.
func writeFilesTar(w io.Writer, files []Files, split bool, epoch int64, sums map[string]string) error {
	if len(files) == 1 {
		f := files[0]
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("opening files of %s: %w", FormatPlatform(f.Platform), err)
		}
		defer rc.Close()
		h := sha256.New()
		if _, err := io.CopyBuffer(io.MultiWriter(w, h), rc, make([]byte, 1<<20)); err != nil {
			return fmt.Errorf("copying files of %s: %w", FormatPlatform(f.Platform), err)
		}
		sums[FormatPlatform(f.Platform)] = hex.EncodeToString(h.Sum(nil))
		return nil
	}
	tw := tar.NewWriter(w)
	for _, f := range files {
		prefix := ""
		if split {
			prefix = platformDir(f.Platform)
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: prefix + "/", Mode: 0o755, ModTime: time.Unix(epoch, 0).UTC(), Format: tar.FormatUSTAR}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("opening files of %s: %w", FormatPlatform(f.Platform), err)
		}
		h := sha256.New()
		tr := tar.NewReader(io.TeeReader(rc, h))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return fmt.Errorf("reading files of %s: %w", FormatPlatform(f.Platform), err)
			}
			if prefix != "" {
				hdr.Name = path.Join(prefix, cleanPath(hdr.Name))
				if hdr.Typeflag == tar.TypeDir {
					hdr.Name += "/"
				}
				if hdr.Typeflag == tar.TypeLink {
					hdr.Linkname = path.Join(prefix, cleanPath(hdr.Linkname))
				}
			}
			if err := tw.WriteHeader(hdr); err != nil {
				rc.Close()
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				rc.Close()
				return err
			}
		}
		io.Copy(h, rc) // the tar's padding after its end, for the digest
		rc.Close()
		sums[FormatPlatform(f.Platform)] = hex.EncodeToString(h.Sum(nil))
	}
	return tw.Close()
}
