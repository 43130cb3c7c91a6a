package lang

import (
	"net/url"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// httpSource is source "http": one file downloaded over http(s).
type httpSource struct{}

var _ sourceKind = httpSource{}

var httpSourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "url", Required: true}, {Name: "filename"}, {Name: "mode"}, {Name: "max_size"}}}

func (httpSource) name() string            { return "http" }
func (httpSource) schema() *hcl.BodySchema { return httpSourceSchema }

// The file is stored under filename, by default the URL's last path
// element, with mode 0644 unless mode says otherwise.
func (httpSource) decode(e *evaluator, b *hcl.Block, a attrs, s *Source) {
	s.URL = a.str("url")
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			e.errorf(a.rng("url"), "Invalid URL", "%q is not an http or https URL.", s.URL)
		} else {
			s.Filename = path.Base(u.Path)
		}
	}
	if f := a.str("filename"); f != "" {
		s.Filename = f
	}
	if a.has("filename") || s.URL != "" {
		if s.Filename == "" || s.Filename == "/" || s.Filename == "." || s.Filename == ".." || strings.Contains(s.Filename, "/") {
			e.errorf(b.DefRange.Ptr(), "Invalid file name", "The file name %q cannot be used; set filename to a plain name such as \"app.tar.gz\".", s.Filename)
		}
	}
	s.Mode = 0o644
	if a.has("mode") {
		if m, n := a.mode("mode"); m != "" {
			s.Mode = n
		}
	}
}
