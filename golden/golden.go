package golden

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/export"
)

// Version is the format version this package reads and writes.
const Version = 1

// FileName is the golden file's name, next to build.hcl.
const FileName = "build.golden.hcl"

// Header is the comment every golden file starts with.
const Header = "# This file is maintained by kiln golden update. Do not edit it by hand.\n" +
	"# It records the digests of this project's outputs; kiln golden check\n" +
	"# fails when a build no longer produces them.\n"

// Path is the golden file of a build file: build.golden.hcl in its folder.
func Path(buildFile string) string { return filepath.Join(filepath.Dir(buildFile), FileName) }

// File is a parsed or recorded golden file.
type File struct {
	Version int
	// Targets by address ("image.app", "artifact.site").
	Targets map[string]*Target
}

// New returns an empty golden file of the current version.
func New() *File { return &File{Version: Version, Targets: map[string]*Target{}} }

// Target is one target's recorded output identity.
type Target struct {
	Kind string // "image" or "artifact"
	Name string

	// Indexes are a multi-platform image's index digests, one per
	// compression, sorted.
	Indexes []Index
	// Manifests are an image's manifests, sorted by platform then
	// compression.
	Manifests []Manifest

	// SHA256 is an artifact's tar as `-o type=tar` writes it, hex.
	SHA256 string
	// Files maps each regular file of an artifact's tar to its sha256 (hex);
	// nil unless recorded with --files.
	Files map[string]string

	// DefRange is where the target's block starts in a parsed file, for
	// errors that name the line; zero for a recorded target.
	DefRange hcl.Range
}

// Address is the target's build.hcl address, "image.NAME" or
// "artifact.NAME".
func (t *Target) Address() string { return t.Kind + "." + t.Name }

// Index is a multi-platform image's index in one compression.
type Index struct {
	Compression string
	Digest      string
}

// Manifest is one platform's image in one compression.
type Manifest struct {
	Platform    string
	Compression string
	Digest      string // the manifest's digest
	Config      string // the config's digest
	DiffIDs     []string
	Blobs       []string
}

func (m Manifest) key() string { return m.Platform + " " + m.Compression }

// Addresses lists the file's target addresses, sorted.
func (f *File) Addresses() []string {
	out := make([]string, 0, len(f.Targets))
	for a := range f.Targets {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Put adds or replaces t.
func (f *File) Put(t *Target) {
	if f.Targets == nil {
		f.Targets = map[string]*Target{}
	}
	f.Targets[t.Address()] = t
}

// CompressionName is how a compression is spelled in the golden file: the
// type, with ":LEVEL" when a level other than the default is set.
func CompressionName(c export.Compression) string {
	name := string(c.Type)
	if name == "" {
		name = "gzip"
	}
	if c.Level != 0 {
		name += ":" + strconv.Itoa(c.Level)
	}
	return name
}

// RecordImage records an assembled image in compression into t (a target
// of kind image), replacing what t held for that compression.
func RecordImage(t *Target, img *export.Image, compression string) error {
	if img == nil || len(img.Manifests) == 0 {
		return fmt.Errorf("recording image %s: it has no manifests", t.Name)
	}
	keep := t.Manifests[:0:0]
	for _, m := range t.Manifests {
		if m.Compression != compression {
			keep = append(keep, m)
		}
	}
	t.Manifests = keep
	keepIdx := t.Indexes[:0:0]
	for _, ix := range t.Indexes {
		if ix.Compression != compression {
			keepIdx = append(keepIdx, ix)
		}
	}
	t.Indexes = keepIdx
	if img.Index != nil {
		t.Indexes = append(t.Indexes, Index{Compression: compression, Digest: img.Descriptor.Digest.String()})
	}
	for _, m := range img.Manifests {
		var cfg ocispec.Image
		if err := json.Unmarshal(m.Config, &cfg); err != nil {
			return fmt.Errorf("recording image %s: reading its config: %w", t.Name, err)
		}
		gm := Manifest{
			Platform:    export.FormatPlatform(m.Platform),
			Compression: compression,
			Digest:      m.Desc.Digest.String(),
			Config:      m.ConfigDesc.Digest.String(),
			DiffIDs:     []string{},
			Blobs:       []string{},
		}
		for _, d := range cfg.RootFS.DiffIDs {
			gm.DiffIDs = append(gm.DiffIDs, d.String())
		}
		for _, l := range m.Layers {
			gm.Blobs = append(gm.Blobs, l.Digest.String())
		}
		t.Manifests = append(t.Manifests, gm)
	}
	t.sort()
	return nil
}

func (t *Target) sort() {
	sort.Slice(t.Manifests, func(i, j int) bool { return t.Manifests[i].key() < t.Manifests[j].key() })
	sort.Slice(t.Indexes, func(i, j int) bool { return t.Indexes[i].Compression < t.Indexes[j].Compression })
}

// RecordTar reads an artifact's tar stream to its end and returns its
// sha256 and, when files is set, the sha256 of each regular file in it by
// path (hard links count as their target's content).
func RecordTar(r io.Reader, files bool) (string, map[string]string, error) {
	h := sha256.New()
	tee := io.TeeReader(r, h)
	var sums map[string]string
	if files {
		sums = map[string]string{}
		tr := tar.NewReader(tee)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return "", nil, fmt.Errorf("reading the artifact's tar: %w", err)
			}
			name := strings.TrimPrefix(strings.TrimPrefix(hdr.Name, "./"), "/")
			switch hdr.Typeflag {
			case tar.TypeReg:
				fh := sha256.New()
				if _, err := io.Copy(fh, tr); err != nil {
					return "", nil, fmt.Errorf("reading %s in the artifact's tar: %w", name, err)
				}
				sums[name] = hex.EncodeToString(fh.Sum(nil))
			case tar.TypeLink:
				link := strings.TrimPrefix(strings.TrimPrefix(hdr.Linkname, "./"), "/")
				if s, ok := sums[link]; ok {
					sums[name] = s
				}
			}
		}
	}
	// The rest of the stream (the tar's end blocks and padding) belongs to
	// the digest too.
	if _, err := io.Copy(h, r); err != nil {
		return "", nil, fmt.Errorf("reading the artifact's tar: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), sums, nil
}
