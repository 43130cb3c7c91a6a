package source

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ignorePattern is one compiled line of a .dockerignore-style list.
type ignorePattern struct {
	// text is the cleaned pattern, without its "!" prefix, as reported in
	// errors and used for pruning decisions.
	text string
	// negate marks a "!" exception: a hit un-matches the path.
	negate bool
	// literal is set when the pattern has no wildcard or escape, so a plain
	// string comparison replaces the regexp (the common case, and the one a
	// 10,000-file walk pays for on every entry).
	literal bool
	re      *regexp.Regexp
	// dirs are the pattern's "/"-separated components, used to decide
	// whether anything below an excluded directory could still match.
	dirs []string
}

// ignoreMatcher applies patterns with Docker's semantics: a pattern hits a
// path when it matches the path or any of its parent directories, and the
// last pattern that hits decides (a "!" pattern un-matches).
type ignoreMatcher struct {
	pats []ignorePattern
}

var errIgnoreBadPattern = errors.New("syntax error in pattern")

// parseIgnoreFile reads a .dockerignore/.kilnignore file: one pattern a line,
// lines starting with "#" are comments, surrounding blanks trimmed, blank
// lines skipped, a UTF-8 byte order mark on the first line dropped.
func parseIgnoreFile(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Bytes()
		if first {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			first = false
		}
		// Docker checks for comments before trimming: "  #x" is a pattern.
		if bytes.HasPrefix(line, []byte("#")) {
			continue
		}
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// newIgnoreMatcher compiles patterns, each as written in an ignore file or
// in an include/exclude list. A leading "/" is dropped (the context root is
// the root), paths are cleaned, and "!" marks an exception.
func newIgnoreMatcher(patterns []string) (*ignoreMatcher, error) {
	m := &ignoreMatcher{}
	for _, raw := range patterns {
		p, err := compileIgnorePattern(raw)
		if err != nil {
			return nil, err
		}
		m.pats = append(m.pats, p)
	}
	return m, nil
}

func compileIgnorePattern(raw string) (ignorePattern, error) {
	s := strings.TrimSpace(raw)
	var p ignorePattern
	if strings.HasPrefix(s, "!") {
		p.negate = true
		s = strings.TrimSpace(s[1:])
	}
	if s == "" {
		return p, fmt.Errorf("pattern %q: %w: nothing after \"!\"", raw, errIgnoreBadPattern)
	}
	s = path.Clean(s)
	if len(s) > 1 && s[0] == '/' {
		s = strings.TrimLeft(s, "/")
	}
	p.text = s
	p.dirs = strings.Split(s, "/")
	if !strings.ContainsAny(s, `*?[\`) {
		p.literal = true
		return p, nil
	}
	expr, err := ignoreRegexp(s)
	if err != nil {
		return p, fmt.Errorf("pattern %q: %w", raw, err)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return p, fmt.Errorf("pattern %q: %w: %v", raw, errIgnoreBadPattern, err)
	}
	p.re = re
	return p, nil
}

// ignoreRegexp translates a glob into an anchored regexp: "*" and "?" stay
// within one path component, "**" spans any number of components (zero
// included), character classes follow Go's filepath.Match syntax and never
// match "/", and "\" escapes the next character.
func ignoreRegexp(s string) (string, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '*' && i+1 < len(s) && s[i+1] == '*':
			i += 2
			// Further stars add nothing: "***" is "**".
			for i < len(s) && s[i] == '*' {
				i++
			}
			if i < len(s) && s[i] == '/' {
				// "**/" may stand for no directory at all: "**/x" matches "x".
				b.WriteString("(?:.*/)?")
				i++
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
			i++
		case c == '?':
			b.WriteString("[^/]")
			i++
		case c == '\\':
			if i+1 >= len(s) {
				return "", fmt.Errorf("%w: trailing \\", errIgnoreBadPattern)
			}
			r, n := ignoreDecodeRune(s[i+1:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += 1 + n
		case c == '[':
			class, n, err := ignoreClass(s[i:])
			if err != nil {
				return "", err
			}
			b.WriteString(class)
			i += n
		default:
			r, n := ignoreDecodeRune(s[i:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += n
		}
	}
	b.WriteString("$")
	return b.String(), nil
}

// ignoreClass parses a character class at the start of s ("[a-z]", "[^x]",
// with "\" escapes) and returns its regexp form and its length in s.
func ignoreClass(s string) (string, int, error) {
	spans, negated, i, err := parseIgnoreClass(s)
	if err != nil {
		return "", 0, err
	}
	return ignoreClassRegexp(spans, negated), i, nil
}

// classSpan is one character or range of a character class.
type classSpan struct{ lo, hi rune }

// parseIgnoreClass reads the class at the start of s, returning its spans,
// whether it is negated and its length.
func parseIgnoreClass(s string) (spans []classSpan, negated bool, i int, err error) {
	i = 1
	if i < len(s) && s[i] == '^' {
		negated = true
		i++
	}
	readChar := func() (rune, error) {
		if i >= len(s) || s[i] == '-' || s[i] == ']' {
			return 0, fmt.Errorf("%w: bad character class in %q", errIgnoreBadPattern, s)
		}
		if s[i] == '\\' {
			i++
			if i >= len(s) {
				return 0, fmt.Errorf("%w: unterminated character class", errIgnoreBadPattern)
			}
		}
		r, n := ignoreDecodeRune(s[i:])
		i += n
		return r, nil
	}
	for {
		if i < len(s) && s[i] == ']' && len(spans) > 0 {
			return spans, negated, i + 1, nil
		}
		if i >= len(s) {
			return nil, false, 0, fmt.Errorf("%w: unterminated character class", errIgnoreBadPattern)
		}
		lo, err := readChar()
		if err != nil {
			return nil, false, 0, err
		}
		hi := lo
		if i < len(s) && s[i] == '-' {
			i++
			if hi, err = readChar(); err != nil {
				return nil, false, 0, err
			}
			if hi < lo {
				return nil, false, 0, fmt.Errorf("%w: reversed range %c-%c", errIgnoreBadPattern, lo, hi)
			}
		}
		spans = append(spans, classSpan{lo, hi})
	}
}

// ignoreClassRegexp is the regexp class of spans, which never matches "/".
func ignoreClassRegexp(spans []classSpan, negated bool) string {
	var b strings.Builder
	b.WriteString("[")
	if negated {
		// A negated class must still not cross a path separator.
		b.WriteString("^/")
	}
	emit := func(lo, hi rune) {
		b.WriteString(regexp.QuoteMeta(string(lo)))
		if hi != lo {
			b.WriteString("-")
			b.WriteString(regexp.QuoteMeta(string(hi)))
		}
	}
	n := 0
	for _, sp := range spans {
		if !negated && sp.lo <= '/' && '/' <= sp.hi {
			// Cut "/" out of the range: classes never match a separator.
			if sp.lo < '/' {
				emit(sp.lo, '/'-1)
				n++
			}
			if sp.hi > '/' {
				emit('/'+1, sp.hi)
				n++
			}
			continue
		}
		emit(sp.lo, sp.hi)
		n++
	}
	if n == 0 {
		// Only "/" was listed: nothing can match.
		return `[^\x00-\x{10FFFF}]`
	}
	b.WriteString("]")
	return b.String()
}

// match reports whether p matches rel itself (not its parents).
func (p *ignorePattern) match(rel string) bool {
	if p.literal {
		return p.text == rel
	}
	if !utf8.ValidString(rel) {
		rel = ignoreEscapeInvalid(rel)
	}
	return p.re.MatchString(rel)
}

// ignoreInvalidBase is where bytes that are not UTF-8 are moved to before
// regexp matching: Go's regexp reads every invalid byte as U+FFFD, which
// would make "\xe4" match "\xb2", and Linux file names are bytes. The last
// 256 code points of plane 16 (private use) stand in for them.
const ignoreInvalidBase = 0x10FF00

// ignoreDecodeRune decodes like utf8.DecodeRuneInString but maps an invalid
// byte to its stand-in.
func ignoreDecodeRune(s string) (rune, int) {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n == 1 {
		return ignoreInvalidBase + rune(s[0]), 1
	}
	return r, n
}

func ignoreEscapeInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := ignoreDecodeRune(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// hits returns which patterns hit rel: match rel itself or one of its
// parents. parent is the result for rel's parent directory (nil at the top),
// so a walk pays one match per pattern per entry, not one per ancestor.
func (m *ignoreMatcher) hits(parent []bool, rel string) []bool {
	if m == nil || len(m.pats) == 0 {
		return nil
	}
	h := make([]bool, len(m.pats))
	for i := range m.pats {
		h[i] = (parent != nil && parent[i]) || m.pats[i].match(rel)
	}
	return h
}

// matched decides from hits: the last pattern that hits wins.
func (m *ignoreMatcher) matched(h []bool) bool {
	if m == nil {
		return false
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] {
			return !m.pats[i].negate
		}
	}
	return false
}

// matches is the whole decision for one path, from scratch: for callers
// outside a walk (and the tests).
func (m *ignoreMatcher) matches(rel string) bool {
	var h []bool
	parts := strings.Split(rel, "/")
	for i := range parts {
		h = m.hits(h, strings.Join(parts[:i+1], "/"))
	}
	return m.matched(h)
}

// mayFlipBelow reports whether some path below the directory dir could get
// the opposite decision from the one dir got (state): only patterns of the
// flipping kind that can reach deeper than dir matter. It errs on the side
// of yes, since a wrong no would silently drop files.
func (m *ignoreMatcher) mayFlipBelow(dir string, state bool) bool {
	if m == nil {
		return false
	}
	dparts := strings.Split(dir, "/")
	for i := range m.pats {
		p := &m.pats[i]
		// Only an exception can un-match; only a plain pattern can match.
		if p.negate != state {
			continue
		}
		if strings.Contains(p.text, "**") || strings.Contains(p.text, `\`) {
			return true
		}
		if len(p.dirs) <= len(dparts) {
			continue
		}
		ok := true
		for j, d := range dparts {
			if hit, err := path.Match(p.dirs[j], d); err == nil && !hit {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
