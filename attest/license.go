package attest

import (
	"bufio"
	"bytes"
	"slices"
	"sort"
	"strings"
)

// debianToSPDX maps the licence short names of Debian's machine-readable
// copyright format (DEP-5) to SPDX identifiers. A name not here becomes a
// LicenseRef- with the copyright file's text of it, as syft does.
var debianToSPDX = map[string]string{
	"apache-2":     "Apache-2.0",
	"apache-2.0":   "Apache-2.0",
	"artistic":     "Artistic-1.0",
	"artistic-1.0": "Artistic-1.0",
	"artistic-2.0": "Artistic-2.0",
	"bsd-2-clause": "BSD-2-Clause",
	"bsd-3-clause": "BSD-3-Clause",
	"bsd-4-clause": "BSD-4-Clause",
	"bsl-1.0":      "BSL-1.0",
	"cc0":          "CC0-1.0",
	"cc0-1.0":      "CC0-1.0",
	"curl":         "curl",
	"expat":        "MIT",
	"mit":          "MIT",
	"isc":          "ISC",
	"zlib":         "Zlib",
	"mpl-1.1":      "MPL-1.1",
	"mpl-2.0":      "MPL-2.0",
	"openssl":      "OpenSSL",
	"x11":          "X11",
	"gpl-1":        "GPL-1.0-only",
	"gpl-1+":       "GPL-1.0-or-later",
	"gpl-2":        "GPL-2.0-only",
	"gpl-2+":       "GPL-2.0-or-later",
	"gpl-3":        "GPL-3.0-only",
	"gpl-3+":       "GPL-3.0-or-later",
	"lgpl-2":       "LGPL-2.0-only",
	"lgpl-2+":      "LGPL-2.0-or-later",
	"lgpl-2.1":     "LGPL-2.1-only",
	"lgpl-2.1+":    "LGPL-2.1-or-later",
	"lgpl-3":       "LGPL-3.0-only",
	"lgpl-3+":      "LGPL-3.0-or-later",
	"agpl-3":       "AGPL-3.0-only",
	"agpl-3+":      "AGPL-3.0-or-later",
	"gfdl-1.2":     "GFDL-1.2-only",
	"gfdl-1.2+":    "GFDL-1.2-or-later",
	"gfdl-1.3":     "GFDL-1.3-only",
	"gfdl-1.3+":    "GFDL-1.3-or-later",
	"python-2.0":   "Python-2.0",
	"psf-2":        "PSF-2.0",
}

// licenses turns copyright files into SPDX licence expressions and
// collects the LicenseRef- texts the document must carry.
type licenses struct {
	refs map[string]string // LicenseRef-X -> text
}

func newLicenses() *licenses { return &licenses{refs: map[string]string{}} }

// declared is the licence expression of a copyright file: the licences
// of its Files paragraphs joined with AND, or NOASSERTION for a file
// that is missing or not in the machine-readable format.
func (l *licenses) declared(copyright []byte) string {
	if copyright == nil {
		return noAssertion
	}
	paras := dep5(copyright)
	if len(paras) == 0 || !strings.Contains(paras[0]["format"], "copyright-format") {
		return noAssertion
	}
	texts := map[string]string{}
	for _, p := range paras {
		if _, ok := p["files"]; ok {
			continue
		}
		if name, text, ok := strings.Cut(p["license"], "\n"); ok {
			texts[strings.TrimSpace(name)] = text
		}
	}
	var exprs []string
	for _, p := range paras {
		if _, ok := p["files"]; !ok {
			continue
		}
		name, text, _ := strings.Cut(p["license"], "\n")
		if strings.TrimSpace(text) != "" {
			texts[strings.TrimSpace(name)] = text
		}
		if e := l.expression(strings.TrimSpace(name), texts); e != "" && !slices.Contains(exprs, e) {
			exprs = append(exprs, e)
		}
	}
	if len(exprs) == 0 {
		return noAssertion
	}
	sort.Strings(exprs)
	if len(exprs) == 1 {
		return exprs[0]
	}
	for i, e := range exprs {
		if strings.Contains(e, " ") {
			exprs[i] = "(" + e + ")"
		}
	}
	return strings.Join(exprs, " AND ")
}

// expression translates one DEP-5 licence field ("GPL-2+ or
// Artistic-1.0", "BSD-3-clause and MIT", "GPL-2+ with OpenSSL
// exception") into SPDX syntax.
func (l *licenses) expression(field string, texts map[string]string) string {
	if field == "" {
		return ""
	}
	words := strings.Fields(strings.ReplaceAll(field, ",", " "))
	var out []string
	var name []string
	flush := func() {
		if len(name) > 0 {
			out = append(out, l.id(strings.Join(name, " "), texts))
			name = nil
		}
	}
	for _, w := range words {
		switch strings.ToLower(w) {
		case "or", "and":
			flush()
			if len(out) > 0 {
				out = append(out, strings.ToUpper(w))
			}
		default:
			name = append(name, w)
		}
	}
	flush()
	if len(out) > 0 && (out[len(out)-1] == "AND" || out[len(out)-1] == "OR") {
		out = out[:len(out)-1]
	}
	return strings.Join(out, " ")
}

// id is the SPDX identifier of one licence name, a LicenseRef- for names
// SPDX lacks (the text the copyright file gives for it comes along).
func (l *licenses) id(name string, texts map[string]string) string {
	if id, ok := debianToSPDX[strings.ToLower(name)]; ok {
		return id
	}
	safe := strings.Trim(spdxIDUnsafe.Regexp().ReplaceAllString(name, "-"), "-")
	if safe == "" {
		safe = "unnamed"
	}
	ref := "LicenseRef-" + safe
	text := strings.TrimSpace(texts[name])
	if text == "" {
		text = "The package's copyright file names the licence " + name + " without its text."
	}
	if _, ok := l.refs[ref]; !ok {
		l.refs[ref] = text
	}
	return ref
}

func (l *licenses) extracted() []spdxExtracted {
	var out []spdxExtracted
	for ref, text := range l.refs {
		out = append(out, spdxExtracted{LicenseID: ref, Text: text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LicenseID < out[j].LicenseID })
	return out
}

// dep5 splits a Debian control-style file into paragraphs of fields
// (lower-cased names); continuation lines are joined with newlines, " ."
// lines becoming empty ones.
func dep5(b []byte) []map[string]string {
	var paras []map[string]string
	cur := map[string]string{}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				paras = append(paras, cur)
				cur, last = map[string]string{}, ""
			}
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				t := strings.TrimSpace(line)
				if t == "." {
					t = ""
				}
				cur[last] += "\n" + t
			}
		case strings.HasPrefix(line, "#"):
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			cur[last] = strings.TrimSpace(v)
		}
	}
	if len(cur) > 0 {
		paras = append(paras, cur)
	}
	return paras
}
