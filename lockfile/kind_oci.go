package lockfile

// TypeOCILayout is an image read from an OCI layout in the build folder:
// path (relative to build.hcl) and the ref its index.json names, pinned
// like an image.
const TypeOCILayout = "oci-layout"

type ociLayoutKind struct{}

var _ platformKind = ociLayoutKind{}

func (ociLayoutKind) locksPlatforms() {}

func (ociLayoutKind) attrs() []attrSpec {
	return []attrSpec{
		{name: "path", check: checkRelPath, str: fPath},
		{name: "ref", optional: true, str: fRef},
		{name: "digest", check: checkDigest, str: fDigest},
		{name: "platforms", kind: kindMap, optional: true},
	}
}

// A single-manifest layout records no platform and serves whichever one is
// asked.
func (ociLayoutKind) matches(in *Input, e *Entry) bool {
	return e.Path == in.Source.Path && e.Ref == in.Source.Ref && platformsMatch(e, in.Platforms, true)
}

func (ociLayoutKind) pin(e *Entry, platform string) (string, bool) {
	return platformDigest(e, platform, true)
}

func (ociLayoutKind) request(in *Input) string {
	return pathRef(in.Source.Path, in.Source.Ref)
}

func (ociLayoutKind) entryRequest(e *Entry) string { return pathRef(e.Path, e.Ref) }

func (ociLayoutKind) summary(e *Entry) string {
	r := e.Ref
	if r == "" {
		r = e.Path
	}
	return r + "@" + short(e.Digest)
}

func pathRef(path, ref string) string {
	s := "path " + path
	if ref != "" {
		s += " ref " + ref
	}
	return s
}
