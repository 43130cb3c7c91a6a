package export

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/kiln-build/kiln/internal/unixmode"
)

// localExporter writes the files into a directory.
type localExporter struct{}

var _ FilesExporter = localExporter{}

func (localExporter) Type() string { return "local" }

func (localExporter) Keys() []string {
	return []string{"dest", "force", "sync", "platform-split", "preserve-ownership"}
}

func (localExporter) Check(o *Output, _ func(string) bool) error {
	if err := needDest(o); err != nil {
		return err
	}
	return noStdout(o)
}

func (localExporter) ExportFiles(ctx context.Context, o Output, job FilesJob) (FileSums, error) {
	sums := FileSums{Platforms: map[string]string{}}
	err := atomically(o, func(tmp string) error {
		if err := mkdirMode(tmp); err != nil {
			return err
		}
		for _, f := range job.Files {
			sub := ""
			if job.Split {
				sub = platformDir(f.Platform)
			}
			sum, err := extract(ctx, tmp, sub, f, o)
			if err != nil {
				return err
			}
			sums.Platforms[FormatPlatform(f.Platform)] = sum
		}
		return nil
	})
	return sums, err
}

// extract unpacks f's tar into dir/sub through an os.Root, so no entry,
// however named and whatever symlinks came before it, writes outside dir.
// Modes are set after creation (the umask does not apply); mtimes of files
// and directories are set as recorded, directories last. Ownership is the
// caller's, as with buildx's local exporter, and setuid and setgid bits are
// dropped, unless o.PreserveOwnership. It returns the tar's sha256.
func extract(ctx context.Context, dir, sub string, f Files, o Output) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	name := FormatPlatform(f.Platform)
	if sub != "" {
		if err := root.Mkdir(sub, 0o755); err != nil {
			return "", err
		}
		if err := root.Chmod(sub, 0o755); err != nil {
			return "", err
		}
	}
	rc, err := f.Open()
	if err != nil {
		return "", fmt.Errorf("opening files of %s: %w", name, err)
	}
	defer rc.Close()
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(rc, h))
	var dirs []*tar.Header
	// Chown comes before chmod: the kernel clears setuid and setgid on a
	// chown, even root's.
	own := func(p string, hdr *tar.Header, lchown bool) error {
		if !o.PreserveOwnership {
			return nil
		}
		chown := root.Chown
		if lchown {
			chown = root.Lchown
		}
		if err := chown(p, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("preserve-ownership=true: giving %s to %d:%d: %w (this needs root; without the option the files are yours)", p, hdr.Uid, hdr.Gid, err)
		}
		return nil
	}
	mode := func(m int64) fs.FileMode {
		if !o.PreserveOwnership {
			m &^= 0o6000
		}
		return unixmode.ToFileMode(uint32(m))
	}
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading files of %s: %w", name, err)
		}
		rel := cleanPath(hdr.Name)
		if rel == "" {
			continue
		}
		if strings.HasPrefix(path.Base(rel), whiteoutPrefix) {
			return "", fmt.Errorf("files of %s: %s is a whiteout; local and tar outputs take a state's merged files", name, hdr.Name)
		}
		p := path.Join(sub, rel)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
				return "", fmt.Errorf("creating %s: %w", rel, err)
			}
			dirs = append(dirs, &tar.Header{Name: p, Mode: hdr.Mode, ModTime: hdr.ModTime, Uid: hdr.Uid, Gid: hdr.Gid})
		case tar.TypeReg:
			w, err := root.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return "", fmt.Errorf("creating %s: %w", rel, err)
			}
			_, err = io.Copy(w, tr)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return "", fmt.Errorf("writing %s: %w", rel, err)
			}
			if err := own(p, hdr, false); err != nil {
				return "", err
			}
			if err := root.Chmod(p, mode(hdr.Mode)); err != nil {
				return "", err
			}
			if err := root.Chtimes(p, hdr.ModTime, hdr.ModTime); err != nil {
				return "", err
			}
		case tar.TypeSymlink:
			if err := root.Symlink(hdr.Linkname, p); err != nil {
				return "", fmt.Errorf("creating symlink %s: %w", rel, err)
			}
			if err := own(p, hdr, true); err != nil {
				return "", err
			}
		case tar.TypeLink:
			if err := root.Link(path.Join(sub, cleanPath(hdr.Linkname)), p); err != nil {
				return "", fmt.Errorf("creating hardlink %s: %w", rel, err)
			}
		default:
			// Never a device node on the host: one is a door to that device
			// for whoever owns it. Layers cannot hold them anyway (Normalize
			// refuses them); fifos are left out as BuildKit's local exporter
			// does.
		}
	}
	io.Copy(h, rc)
	// Children change their parent's mtime, so directories come last,
	// deepest first.
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Name > dirs[j].Name })
	for _, d := range dirs {
		if err := own(d.Name, d, false); err != nil {
			return "", err
		}
		if err := root.Chmod(d.Name, mode(d.Mode)); err != nil {
			return "", err
		}
		if err := root.Chtimes(d.Name, d.ModTime, d.ModTime); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
