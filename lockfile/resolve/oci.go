package resolve

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/kiln-build/kiln/internal/infolder"
	"github.com/kiln-build/kiln/lockfile"
)

// refNameAnnotation is how an OCI layout's index.json names its manifests.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// ociLayoutResolver reads the layout's index.json, below the build file's
// folder dir: the manifest named Ref, or its only manifest when Ref is
// empty.
type ociLayoutResolver struct{ dir string }

var _ Resolver = ociLayoutResolver{}

func newOCILayoutResolver(env Env) Resolver { return ociLayoutResolver{dir: env.Dir} }

// Resolve pins in's layout ref to its manifest (and platform) digests.
func (r ociLayoutResolver) Resolve(_ context.Context, in *lockfile.Input) (*lockfile.Entry, error) {
	dir := r.dir
	s := in.Source
	p, err := infolder.Join(dir, filepath.FromSlash(s.Path))
	if err != nil {
		return nil, fmt.Errorf("oci layout %s leads outside the build folder (%v); only the build folder and its sub-folders can be sources", s.Path, err)
	}
	lp, err := layout.FromPath(p)
	if err != nil {
		return nil, fmt.Errorf("reading oci layout %s: %w", s.Path, err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading oci layout %s: %w", s.Path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading oci layout %s: %w", s.Path, err)
	}
	var found []int
	var names []string
	for i, m := range im.Manifests {
		n := m.Annotations[refNameAnnotation]
		if n != "" {
			names = append(names, n)
		}
		if s.Ref == "" || n == s.Ref {
			found = append(found, i)
		}
	}
	sort.Strings(names)
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("oci layout %s has no manifest named %q (it has: %s)", s.Path, s.Ref, strings.Join(names, ", "))
	case len(found) > 1 && s.Ref == "":
		return nil, fmt.Errorf("oci layout %s has %d manifests; set ref to one of: %s", s.Path, len(found), strings.Join(names, ", "))
	case len(found) > 1:
		return nil, fmt.Errorf("oci layout %s names %d manifests %q", s.Path, len(found), s.Ref)
	}
	d := im.Manifests[found[0]]
	e := &lockfile.Entry{Address: in.Address, Type: lockfile.TypeOCILayout, Path: s.Path, Ref: s.Ref, Digest: d.Digest.String()}
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading oci layout %s: %w", s.Path, err)
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading oci layout %s: %w", s.Path, err)
		}
		if e.Platforms, err = indexPlatforms(cm, in.Platforms); err != nil {
			return nil, fmt.Errorf("oci layout %s: %w", s.Path, err)
		}
		return e, nil
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading oci layout %s: %w", s.Path, err)
	}
	if e.Platforms, err = imagePlatforms(img, e.Digest, in.Platforms); err != nil {
		return nil, fmt.Errorf("oci layout %s: %w", s.Path, err)
	}
	return e, nil
}
