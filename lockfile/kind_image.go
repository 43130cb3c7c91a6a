package lockfile

// TypeImage is an image pulled from a registry: ref is the tag or digest
// asked for, digest the index (or single manifest), platforms each
// platform's manifest.
const TypeImage = "image"

type imageKind struct{}

var _ platformKind = imageKind{}

func (imageKind) locksPlatforms() {}

func (imageKind) attrs() []attrSpec {
	return []attrSpec{
		{name: "ref", check: checkNonEmpty, str: fRef},
		{name: "digest", check: checkDigest, str: fDigest},
		{name: "platforms", kind: kindMap},
	}
}

func (imageKind) matches(in *Input, e *Entry) bool {
	return e.Ref == in.Source.Ref && platformsMatch(e, in.Platforms, false)
}

func (imageKind) pin(e *Entry, platform string) (string, bool) {
	return platformDigest(e, platform, false)
}

func (imageKind) request(in *Input) string {
	return "ref " + in.Source.Ref + platformList(in.Platforms)
}

func (imageKind) entryRequest(e *Entry) string { return describe("ref", e.Ref, e.Platforms) }

func (imageKind) summary(e *Entry) string { return shortRef(e.Ref) + "@" + short(e.Digest) }
