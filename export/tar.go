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
	"time"
)

// tarExporter writes the files as one tar, to a file or to stdout (dest=-).
type tarExporter struct{}

var _ FilesExporter = tarExporter{}

func (tarExporter) Type() string { return "tar" }

func (tarExporter) Keys() []string { return []string{"dest", "force", "sync", "platform-split"} }

func (tarExporter) Check(o *Output, _ func(string) bool) error {
	if err := needDest(o); err != nil {
		return err
	}
	if o.Dest == "-" && o.Sync {
		return errors.New("sync=true flushes a dest file to disk; with dest=- (stdout) the reader decides, drop sync=")
	}
	return nil
}

func (tarExporter) ExportFiles(_ context.Context, o Output, job FilesJob) (FileSums, error) {
	sums := FileSums{Platforms: map[string]string{}}
	write := func(w io.Writer) error {
		h := sha256.New()
		if err := writeFilesTar(io.MultiWriter(w, h), job.Files, job.Split, job.Epoch, sums.Platforms); err != nil {
			return err
		}
		sums.Tar = hex.EncodeToString(h.Sum(nil))
		return nil
	}
	if o.Dest == "-" {
		if job.Stdout == nil {
			return sums, errors.New("type=tar,dest=-: no standard output to write to")
		}
		return sums, write(job.Stdout)
	}
	return sums, atomically(o, func(tmp string) error {
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
