package export

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/internal/jsondoc"
	"github.com/kiln-build/kiln/internal/platform"
)

// Docker media types, used only in docker archives.
const (
	DockerManifestType = "application/vnd.docker.distribution.manifest.v2+json"
	DockerConfigType   = "application/vnd.docker.container.image.v1+json"
	dockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	dockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
)

// Annotation keys kiln sets from what it knows.
const (
	AnnotationCreated  = ocispec.AnnotationCreated
	AnnotationSource   = ocispec.AnnotationSource
	AnnotationRevision = ocispec.AnnotationRevision
)

// ImageSpec is the image block's settings, applied over the base config.
// export takes them as plain data (the targets package fills them from the
// compiled target), so it never reads the build file.
type ImageSpec struct {
	Entrypoint  []string
	Cmd         []string
	Env         map[string]string
	Workdir     string
	User        string
	Labels      map[string]string
	Annotations map[string]string
	Expose      []string
	Volumes     []string
	StopSignal  string
	Squash      bool
	// Healthcheck, Shell and OnBuild replace the base's when set.
	Healthcheck *Healthcheck
	Shell       []string
	OnBuild     []string
}

// Healthcheck is docker's config Healthcheck, as docker writes it (its
// durations are nanoseconds in JSON). The OCI image spec has no such
// field; docker, podman and BuildKit read and write this one.
type Healthcheck struct {
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// configFile is an image config: ocispec.Image with docker's fields of
// the run config that the OCI spec lacks, so that a base image's
// Healthcheck, Shell and OnBuild are read and written, not dropped. The
// fields of ocispec.Image are repeated in their order, and the extra ones
// come last and are omitted when empty, so a config without them has the
// very bytes ocispec.Image gives.
type configFile struct {
	Created *time.Time `json:"created,omitempty"`
	Author  string     `json:"author,omitempty"`
	ocispec.Platform
	Config  runConfig         `json:"config,omitempty"`
	RootFS  ocispec.RootFS    `json:"rootfs"`
	History []ocispec.History `json:"history,omitempty"`
}

type runConfig struct {
	ocispec.ImageConfig
	Healthcheck *Healthcheck `json:"Healthcheck,omitempty"`
	OnBuild     []string     `json:"OnBuild,omitempty"`
	Shell       []string     `json:"Shell,omitempty"`
}

// PlatformInput is one platform's part of an image.
type PlatformInput struct {
	Platform ocispec.Platform
	// Layers bottom first, base image layers included.
	Layers []LayerInput
	// BaseConfig is the base image's config JSON, or nil for scratch. Its
	// rootfs.diff_ids must be the diff_ids of the first layers.
	BaseConfig []byte
}

// ImageInput is everything an image is made of.
type ImageInput struct {
	Spec            ImageSpec
	Platforms       []PlatformInput
	SourceDateEpoch int64
	// Source and Revision become org.opencontainers.image.source and
	// .revision when set.
	Source, Revision string
}

// Manifest is one platform's image: its config and manifest, encoded.
type Manifest struct {
	Platform   ocispec.Platform
	Config     []byte
	ConfigDesc ocispec.Descriptor
	Raw        []byte
	Desc       ocispec.Descriptor // with Platform set
	Layers     []ocispec.Descriptor
	// unstored are the layer blobs that are not in the BlobStore, by
	// digest: uncompressed layers written from their trees (FileLayer).
	unstored map[digest.Digest]*unstoredBlob
}

// Image is an assembled image: its layer blobs are in the BlobStore (but
// for uncompressed FileLayers, written from the layer into each output),
// its JSON documents here.
type Image struct {
	// Manifests are sorted by platform.
	Manifests []Manifest
	// Index is the image index for a multi-platform image, nil otherwise.
	Index []byte
	// Descriptor is the top: the index when there is one, else the manifest.
	Descriptor ocispec.Descriptor
	// Docker tells that the documents use docker media types.
	Docker bool
	// Attestations are the attestation manifests the index lists after
	// the image manifests (Attach); their layers are in-toto statements.
	Attestations []Manifest
}

// AssembleOptions say how an image is encoded.
type AssembleOptions struct {
	Compression Compression
	// DockerMediaTypes writes docker media types (docker archives) instead
	// of OCI ones.
	DockerMediaTypes bool
}

func descriptorOf(mt string, raw []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
}

// Assemble builds the image: layer blobs into store (cached by content),
// config, manifests and, for several platforms, the index.
func Assemble(store BlobStore, in *ImageInput, opts AssembleOptions) (*Image, error) {
	if len(in.Platforms) == 0 {
		return nil, fmt.Errorf("image has no platforms")
	}
	if opts.Compression.Type == "" {
		opts.Compression.Type = "gzip"
	}
	created := time.Unix(in.SourceDateEpoch, 0).UTC()
	annotations := map[string]string{AnnotationCreated: created.Format(time.RFC3339)}
	if in.Source != "" {
		annotations[AnnotationSource] = in.Source
	}
	if in.Revision != "" {
		annotations[AnnotationRevision] = in.Revision
	}
	maps.Copy(annotations, in.Spec.Annotations)

	img := &Image{Docker: opts.DockerMediaTypes}
	seen := map[string]bool{}
	for _, p := range in.Platforms {
		key := FormatPlatform(p.Platform)
		if seen[key] {
			return nil, fmt.Errorf("platform %s is given twice", key)
		}
		seen[key] = true
		m, err := assemblePlatform(store, in, p, created, annotations, opts)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", key, err)
		}
		img.Manifests = append(img.Manifests, m)
	}
	sort.SliceStable(img.Manifests, func(i, j int) bool {
		a, b := img.Manifests[i].Platform, img.Manifests[j].Platform
		if na, nb := FormatPlatform(platform.Normalize(a)), FormatPlatform(platform.Normalize(b)); na != nb {
			return na < nb
		}
		return FormatPlatform(a) < FormatPlatform(b)
	})
	if len(img.Manifests) == 1 {
		img.Descriptor = img.Manifests[0].Desc
		return img, nil
	}
	if opts.DockerMediaTypes {
		return nil, fmt.Errorf("a docker archive holds one platform, this image has %d: export one platform or use type=oci", len(img.Manifests))
	}
	descs := make([]ocispec.Descriptor, 0, len(img.Manifests))
	for _, m := range img.Manifests {
		descs = append(descs, m.Desc)
	}
	raw, desc, err := BuildIndex(descs, annotations)
	if err != nil {
		return nil, err
	}
	img.Index = raw
	img.Descriptor = desc
	return img, nil
}

func assemblePlatform(store BlobStore, in *ImageInput, p PlatformInput, created time.Time, annotations map[string]string, opts AssembleOptions) (Manifest, error) {
	if len(p.Layers) == 0 {
		return Manifest{}, fmt.Errorf("image has no layers: give the image block a from, or steps that add files")
	}
	var cfg configFile
	if p.BaseConfig != nil {
		if err := json.Unmarshal(p.BaseConfig, &cfg); err != nil {
			return Manifest{}, fmt.Errorf("decoding base image config: %w", err)
		}
	}
	base := cfg.RootFS.DiffIDs
	if len(base) > len(p.Layers) {
		return Manifest{}, fmt.Errorf("base config has %d layers, only %d layers given", len(base), len(p.Layers))
	}
	for i, d := range base {
		if p.Layers[i].Layer == nil || p.Layers[i].Layer.DiffID() != d {
			return Manifest{}, fmt.Errorf("layer %d is not the base image's layer %s", i, d)
		}
	}
	history := cfg.History
	layers := p.Layers
	if in.Spec.Squash {
		var ls []Layer
		for _, li := range layers {
			ls = append(ls, li.Layer)
		}
		sq, err := Squash(ls)
		if err != nil {
			return Manifest{}, err
		}
		for i := range history {
			history[i].EmptyLayer = true
		}
		var by []string
		for _, li := range layers[len(base):] {
			by = append(by, li.CreatedBy)
		}
		layers = []LayerInput{{Layer: sq, CreatedBy: "kiln squash: " + strings.Join(by, "; ")}}
		base = nil
	}
	for _, li := range layers[len(base):] {
		history = append(history, ocispec.History{Created: &created, CreatedBy: li.CreatedBy})
	}

	var blobs []layerBlob
	for i, li := range layers {
		lb, err := blobFor(store, li, opts.Compression)
		if err != nil {
			return Manifest{}, fmt.Errorf("layer %d: %w", i, err)
		}
		blobs = append(blobs, lb)
	}

	cfg.Created = &created
	cfg.Platform = p.Platform
	cfg.RootFS = ocispec.RootFS{Type: "layers"}
	for _, b := range blobs {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, b.diffID)
	}
	cfg.History = history
	defaultPath(&cfg.Config.ImageConfig)
	applySpec(&cfg.Config.ImageConfig, in.Spec)
	applyDockerSpec(&cfg.Config, in.Spec)
	rawCfg, err := jsondoc.Marshal(cfg)
	if err != nil {
		return Manifest{}, err
	}

	cfgType, mfType := ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	if opts.DockerMediaTypes {
		cfgType, mfType = DockerConfigType, DockerManifestType
	}
	mf := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: mfType,
		Config:    descriptorOf(cfgType, rawCfg),
	}
	if !opts.DockerMediaTypes {
		mf.Annotations = annotations
	}
	var unstored map[digest.Digest]*unstoredBlob
	for _, b := range blobs {
		d := b.desc
		if b.unstored != nil {
			if unstored == nil {
				unstored = map[digest.Digest]*unstoredBlob{}
			}
			unstored[d.Digest] = b.unstored
		}
		if opts.DockerMediaTypes {
			switch d.MediaType {
			case ocispec.MediaTypeImageLayerGzip:
				d.MediaType = dockerLayerGzip
			case ocispec.MediaTypeImageLayer:
				d.MediaType = dockerLayer
			default:
				return Manifest{}, fmt.Errorf("a docker archive takes gzip, estargz or uncompressed layers, not %s: set compression=gzip", d.MediaType)
			}
		}
		mf.Layers = append(mf.Layers, d)
	}
	raw, err := jsondoc.Marshal(mf)
	if err != nil {
		return Manifest{}, err
	}
	desc := descriptorOf(mfType, raw)
	plat := p.Platform
	desc.Platform = &plat
	return Manifest{Platform: p.Platform, Config: rawCfg, ConfigDesc: mf.Config, Raw: raw, Desc: desc, Layers: mf.Layers, unstored: unstored}, nil
}

// DefaultPath is the PATH an image gets when its base sets none: BuildKit's
// and docker's default, and the one kiln's sandbox runs steps with
// (compiler.DefaultPath).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// defaultPath gives a config without PATH the default one, as BuildKit's
// Dockerfile frontend does for every stage: without it a container of an
// image on scratch or a local root filesystem finds no command. The block's
// env then replaces it like any inherited variable.
func defaultPath(c *ocispec.ImageConfig) {
	for _, kv := range c.Env {
		if strings.HasPrefix(kv, "PATH=") {
			return
		}
	}
	c.Env = append(c.Env, "PATH="+DefaultPath)
}

// applyDockerSpec sets the docker-only fields. A base's OnBuild triggers
// are dropped, as docker and BuildKit drop them once FROM has run them:
// kiln does not run them (build.hcl has no Dockerfile instructions to
// run), and they were meant for the image built on the base, this one.
func applyDockerSpec(c *runConfig, s ImageSpec) {
	c.OnBuild = s.OnBuild
	if s.Healthcheck != nil {
		c.Healthcheck = s.Healthcheck
	}
	if s.Shell != nil {
		c.Shell = s.Shell
	}
}

// applySpec extends a base config as Docker does: env merged by name (the
// block wins), labels, ports and volumes merged, an entrypoint set without a
// cmd clears the inherited cmd, other settings replace the base's when set.
func applySpec(c *ocispec.ImageConfig, s ImageSpec) {
	if len(s.Env) > 0 {
		pos := map[string]int{}
		for i, kv := range c.Env {
			k, _, _ := strings.Cut(kv, "=")
			pos[k] = i
		}
		for _, k := range slices.Sorted(maps.Keys(s.Env)) {
			kv := k + "=" + s.Env[k]
			if i, ok := pos[k]; ok {
				c.Env[i] = kv
			} else {
				c.Env = append(c.Env, kv)
			}
		}
	}
	if s.Entrypoint != nil {
		c.Entrypoint = s.Entrypoint
		if s.Cmd == nil {
			c.Cmd = nil
		}
	}
	if s.Cmd != nil {
		c.Cmd = s.Cmd
	}
	if s.Workdir != "" {
		c.WorkingDir = s.Workdir
	}
	if s.User != "" {
		c.User = s.User
	}
	if s.StopSignal != "" {
		c.StopSignal = s.StopSignal
	}
	if len(s.Labels) > 0 {
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		maps.Copy(c.Labels, s.Labels)
	}
	for _, p := range s.Expose {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		c.ExposedPorts[p] = struct{}{}
	}
	for _, v := range s.Volumes {
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		c.Volumes[v] = struct{}{}
	}
}
