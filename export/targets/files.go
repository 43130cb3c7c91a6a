package targets

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/export"
)

// ExportFiles writes a target's files (an artifact's paths, or a whole
// state) to a files output; stdout receives dest=-, so kiln golden can hash
// the tar without writing it anywhere.
func (b Build) ExportFiles(ctx context.Context, t *compiler.Target, o export.Output, stdout io.Writer) (export.Metadata, error) {
	var paths []string
	if t.Export != nil {
		paths = t.Export.Paths
	}
	var files []export.Files
	for _, pl := range t.Platforms {
		p, err := export.ParsePlatform(pl)
		if err != nil {
			return nil, err
		}
		var layers []export.Layer
		if s := t.States[pl]; s != "" {
			outs, err := b.Store.LookupMany([]digest.Digest{s})
			if err != nil {
				return nil, err
			}
			for _, l := range outs[s].Layers {
				layers = append(layers, storeLayer{b.Store, l})
			}
		}
		files = append(files, export.Files{Platform: p, Open: func() (io.ReadCloser, error) {
			return stateFiles(layers, paths)
		}})
	}
	return export.ExportFiles(ctx, o, files, stdout, b.Epoch)
}

// stateFiles is the merged tar of a state's layers, limited to paths (all
// when empty). Whiteouts are applied, so the stream is the state's files.
func stateFiles(layers []export.Layer, paths []string) (io.ReadCloser, error) {
	if len(layers) == 0 {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(tar.NewWriter(pw).Close()) }()
		return pr, nil
	}
	sq, err := export.Squash(layers)
	if err != nil {
		return nil, err
	}
	rc, err := sq.Open()
	if err != nil || len(paths) == 0 {
		return rc, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer rc.Close()
		pw.CloseWithError(filterTar(pw, rc, artifactPaths(paths)))
	}()
	return pr, nil
}

// artifactPaths are an artifact's paths inside its state, cleaned and
// without their leading slash ("" is the whole state).
type artifactPaths []string

func newArtifactPaths(paths []string) artifactPaths {
	out := make(artifactPaths, len(paths))
	for i, p := range paths {
		out[i] = strings.Trim(path.Clean("/"+p), "/")
	}
	return out
}

// rename is where the entry name of the state lands in the artifact when
// it is exported through path p: a directory's contents go to the root and
// a file (or a symlink) takes its own name there, as with Dockerfile COPY
// and buildx's local output, never the path that led to it. ok is false
// for an entry outside p, and for p's own directory (the output's root).
func rename(p, name string, dir bool) (string, bool) {
	name = strings.Trim(strings.TrimPrefix(name, "./"), "/")
	switch {
	case p == "":
		return name, name != ""
	case name == p && dir:
		return "", false
	case name == p:
		return path.Base(p), true
	case strings.HasPrefix(name, p+"/"):
		return name[len(p)+1:], true
	}
	return "", false
}

// filterTar copies the entries of r under paths to a tar on w, renamed as
// rename says. A directory that two paths both give is written once; a
// file that two paths both give is an error, since one would silently
// hide the other.
func filterTar(w io.Writer, r io.Reader, paths []string) error {
	ps := newArtifactPaths(paths)
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	from := map[string]string{} // artifact name -> the state's entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		dir := h.Typeflag == tar.TypeDir
		type match struct{ p, name string }
		var ms []match
		for _, p := range ps {
			if name, ok := rename(p, h.Name, dir); ok {
				ms = append(ms, match{p, name})
			}
		}
		body := func() io.Reader { return tr }
		if len(ms) > 1 && h.Typeflag == tar.TypeReg {
			// Nested paths give the file more than once: it is read once.
			b, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			body = func() io.Reader { return bytes.NewReader(b) }
		}
		for _, m := range ms {
			if prev, seen := from[m.name]; seen {
				if dir {
					continue
				}
				return fmt.Errorf("artifact paths put both /%s and /%s at %s: export them as separate artifacts, or move one aside in a step", strings.Trim(prev, "/"), strings.Trim(h.Name, "/"), m.name)
			}
			from[m.name] = h.Name
			nh := *h
			nh.Name = m.name
			if dir {
				nh.Name += "/"
			}
			if h.Typeflag == tar.TypeLink {
				if nh.Linkname, err = linkTarget(ps, m.p, h); err != nil {
					return err
				}
			}
			if err := tw.WriteHeader(&nh); err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg {
				if _, err := io.Copy(tw, body()); err != nil {
					return err
				}
			}
		}
	}
}

// linkTarget is where the target of hard link h, exported through path p,
// lands in the artifact: through p when p holds it, else through the first
// path that does.
func linkTarget(ps artifactPaths, p string, h *tar.Header) (string, error) {
	if name, ok := rename(p, h.Linkname, false); ok {
		return name, nil
	}
	for _, q := range ps {
		if name, ok := rename(q, h.Linkname, false); ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("artifact file /%s is a hard link to /%s, which none of its paths exports: export that file's folder too, or copy the file in a step", strings.Trim(h.Name, "/"), strings.Trim(h.Linkname, "/"))
}
