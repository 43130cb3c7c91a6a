package export

import (
	"context"
	"fmt"
	"strings"

	"github.com/kiln-build/kiln/internal/jsondoc"
)

// dockerExporter writes a `docker save` archive, loadable with docker load.
type dockerExporter struct{}

var _ ImageExporter = dockerExporter{}

func (dockerExporter) Type() string { return "docker" }

func (dockerExporter) Keys() []string {
	return []string{"dest", "name", "compression", "compression-level", "force-compression", "force", "sync"}
}

func (dockerExporter) Check(o *Output, _ func(string) bool) error {
	if err := needDest(o); err != nil {
		return err
	}
	if err := needName(o); err != nil {
		return err
	}
	return noStdout(o)
}

// AssembleOptions asks for docker media types: docker load takes no
// others.
func (dockerExporter) AssembleOptions(o Output) AssembleOptions {
	return AssembleOptions{Compression: o.LayerCompression(), DockerMediaTypes: true}
}

func (dockerExporter) ExportImage(_ context.Context, o Output, store BlobStore, img *Image, epoch int64) error {
	s, err := dockerArchive(store, img, o.Names)
	if err != nil {
		return fmt.Errorf("type=docker: %w", err)
	}
	return atomically(o, func(tmp string) error { return writeTarFile(tmp, s, epoch) })
}

// dockerManifestEntry is one image of a docker archive's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// dockerArchive builds the files of a `docker save` archive: the blobs
// under blobs/sha256 (the layout of Docker 25+), manifest.json and
// repositories.
func dockerArchive(store BlobStore, img *Image, names []string) (fileSet, error) {
	if !img.Docker || len(img.Manifests) != 1 {
		return nil, fmt.Errorf("a docker archive needs a one-platform image assembled with docker media types")
	}
	s := fileSet{}
	if err := imageFiles(s, store, img); err != nil {
		return nil, err
	}
	m := img.Manifests[0]
	e := dockerManifestEntry{Config: blobName(m.ConfigDesc.Digest), RepoTags: []string{}}
	for _, l := range m.Layers {
		e.Layers = append(e.Layers, blobName(l.Digest))
	}
	repos := map[string]map[string]string{}
	top := m.Layers[len(m.Layers)-1].Digest.Encoded()
	for _, n := range sortedUnique(names) {
		repo, tag := n, "latest"
		if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
			repo, tag = n[:i], n[i+1:]
		}
		e.RepoTags = append(e.RepoTags, repo+":"+tag)
		if repos[repo] == nil {
			repos[repo] = map[string]string{}
		}
		repos[repo][tag] = top
	}
	raw, err := jsondoc.Marshal([]dockerManifestEntry{e})
	if err != nil {
		return nil, err
	}
	s.addData("manifest.json", raw)
	if raw, err = jsondoc.Marshal(repos); err != nil {
		return nil, err
	}
	s.addData("repositories", raw)
	return s, nil
}
