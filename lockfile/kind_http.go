package lockfile

// TypeHTTP is a file downloaded over http(s): url, pinned by the sha256
// and size of what it served.
const TypeHTTP = "http"

type httpKind struct{}

var _ kind = httpKind{}

func (httpKind) attrs() []attrSpec {
	return []attrSpec{
		{name: "url", check: checkNonEmpty, str: fURL},
		{name: "sha256", check: checkHex256, str: fSHA256},
		{name: "size", kind: kindInt, num: fSize},
	}
}

func (httpKind) matches(in *Input, e *Entry) bool { return e.URL == in.Source.URL }

func (httpKind) pin(e *Entry, _ string) (string, bool) { return "sha256:" + e.SHA256, true }

func (httpKind) request(in *Input) string { return "url " + in.Source.URL }

func (httpKind) entryRequest(e *Entry) string { return "url " + e.URL }

func (httpKind) summary(e *Entry) string { return short("sha256:" + e.SHA256) }
