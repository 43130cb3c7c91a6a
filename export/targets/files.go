package targets

import (
	"archive/tar"
	"context"
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
		pw.CloseWithError(filterTar(pw, rc, keepPaths(paths)))
	}()
	return pr, nil
}

// keepPaths reports whether an entry is one of paths, under one, or a
// directory holding one (so that the paths keep their parents).
func keepPaths(paths []string) func(name string) bool {
	return func(name string) bool {
		name = strings.TrimSuffix(name, "/")
		for _, p := range paths {
			p = strings.Trim(path.Clean("/"+p), "/")
			if p == "" || name == p || strings.HasPrefix(name, p+"/") || strings.HasPrefix(p, name+"/") {
				return true
			}
		}
		return false
	}
}

// filterTar copies the entries of r that keep accepts to a tar on w.
func filterTar(w io.Writer, r io.Reader, keep func(name string) bool) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if !keep(h.Name) {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
