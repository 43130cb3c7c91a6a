package debian

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Paragraph is one deb822 stanza: field names as written (case kept) to
// values, continuation lines joined with "\n".
type Paragraph map[string]string

// Get returns a field by name, case-insensitively as deb822 requires.
func (p Paragraph) Get(name string) string {
	if v, ok := p[name]; ok {
		return v
	}
	for k, v := range p {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// ParseParagraphs reads deb822 paragraphs from r, calling fn for each.
// Comment lines ("#") are skipped, as apt does in .sources files. A line
// that is neither a field, a continuation nor blank is an error with its
// line number.
func ParseParagraphs(r io.Reader, fn func(Paragraph) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	var cur Paragraph
	var last string
	seen := map[string]bool{} // lowercased field names of cur
	line := 0
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		p := cur
		cur, last = nil, ""
		clear(seen)
		return fn(p)
	}
	for sc.Scan() {
		line++
		t := sc.Text()
		switch {
		case strings.TrimSpace(t) == "":
			if err := flush(); err != nil {
				return err
			}
		case strings.HasPrefix(t, "#"):
		case t[0] == ' ' || t[0] == '\t':
			if last == "" {
				return fmt.Errorf("line %d: continuation line without a field", line)
			}
			cur[last] += "\n" + strings.TrimSpace(t)
		default:
			k, v, ok := strings.Cut(t, ":")
			if !ok || k == "" {
				return fmt.Errorf("line %d: %q is not a \"Field: value\" line", line, t)
			}
			// deb822 forbids a field twice in a paragraph; taking either
			// copy would make Get's answer depend on map order.
			if lk := strings.ToLower(k); seen[lk] {
				return fmt.Errorf("line %d: field %q appears twice in one paragraph", line, k)
			} else {
				seen[lk] = true
			}
			if cur == nil {
				cur = Paragraph{}
			}
			last = k
			cur[k] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return flush()
}

// clearsigned strips an OpenPGP clear-signature envelope (InRelease) and
// returns the signed text, undoing dash-escaping; other input is returned
// unchanged.
func clearsigned(b []byte) []byte {
	s := string(b)
	const begin = "-----BEGIN PGP SIGNED MESSAGE-----"
	if !strings.HasPrefix(s, begin) {
		return b
	}
	// Armor headers end at the first blank line.
	_, rest, ok := strings.Cut(s, "\n\n")
	if !ok {
		return b
	}
	if i := strings.Index(rest, "\n-----BEGIN PGP SIGNATURE-----"); i >= 0 {
		rest = rest[:i+1]
	}
	var out strings.Builder
	for _, l := range strings.SplitAfter(rest, "\n") {
		out.WriteString(strings.TrimPrefix(l, "- "))
	}
	return []byte(out.String())
}
