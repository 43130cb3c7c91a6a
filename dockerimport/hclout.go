package dockerimport

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kiln-build/kiln/internal/lazyre"
)

// expr is the HCL source text of an expression.
type expr string

// block is one HCL block of the output, written in the order it is built.
type block struct {
	typ      string
	labels   []string
	comments []string // written as # lines above the block
	items    []item
}

// item is an attribute, a nested block or a comment line, in order.
type item struct {
	name    string
	val     expr
	blk     *block
	comment string
}

func newBlock(typ string, labels ...string) *block { return &block{typ: typ, labels: labels} }

func (b *block) set(name string, v expr) { b.items = append(b.items, item{name: name, val: v}) }

func (b *block) add(typ string, labels ...string) *block {
	nb := newBlock(typ, labels...)
	b.items = append(b.items, item{blk: nb})
	return nb
}

func (b *block) comment(text string) { b.items = append(b.items, item{comment: text}) }

func (b *block) write(w *strings.Builder, indent string) {
	for _, c := range b.comments {
		writeComment(w, indent, c)
	}
	w.WriteString(indent + b.typ)
	for _, l := range b.labels {
		w.WriteString(" " + quoteLiteral(l))
	}
	w.WriteString(" {\n")
	for _, it := range b.items {
		switch {
		case it.blk != nil:
			it.blk.write(w, indent+"  ")
		case it.comment != "":
			writeComment(w, indent+"  ", it.comment)
		default:
			fmt.Fprintf(w, "%s  %s = %s\n", indent, it.name, it.val)
		}
	}
	w.WriteString(indent + "}\n")
}

func writeComment(w *strings.Builder, indent, text string) {
	for _, line := range strings.Split(text, "\n") {
		w.WriteString(indent + "#")
		if line != "" {
			w.WriteString(" " + sanitizeComment(line))
		}
		w.WriteString("\n")
	}
}

// sanitizeComment keeps a comment on its line and valid UTF-8: the text
// comes from the Dockerfile.
func sanitizeComment(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Interpolations travel inside expanded words as markers, so that the
// words can go through BuildKit's lexer like any other: markOpen, the
// index of the expression in converter.interp, markClose. The input is
// refused if it holds either rune itself.
const (
	markOpen  = '\uE000'
	markClose = '\uE001'
)

// quote renders s as an HCL quoted template: literal text escaped (also
// ${ and %{, which HCL would interpolate), markers as ${expression}.
func (c *converter) quote(s string) expr {
	// HCL text is UTF-8; a Dockerfile need not be.
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.WriteByte('"')
	parts := c.split(s)
	for i, part := range parts {
		if part.interp >= 0 {
			b.WriteString("${" + c.interp[part.interp].expr + "}")
			continue
		}
		text := part.text
		// "$" or "%" right before an interpolation would make "$${",
		// HCL's escape for a literal "${": write it as an interpolation.
		last := ""
		if i+1 < len(parts) && (strings.HasSuffix(text, "$") || strings.HasSuffix(text, "%")) {
			text, last = text[:len(text)-1], text[len(text)-1:]
		}
		quoteText(&b, text)
		if last != "" {
			b.WriteString(`${"` + last + `"}`)
		}
	}
	b.WriteByte('"')
	return expr(b.String())
}

// quoteText writes literal text escaped for an HCL quoted template.
func quoteText(b *strings.Builder, s string) {
	// HCL text is UTF-8; a Dockerfile need not be.
	s = strings.ToValidUTF8(s, "\uFFFD")
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case (r == '$' || r == '%') && i < len(s) && s[i] == '{':
			b.WriteRune(r)
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
}

// heredoc renders a multi-line string (a script) as an HCL heredoc, so
// that it reads as it did in the Dockerfile; false when s does not suit
// one (no final newline, or characters a heredoc cannot hold as they are).
func heredoc(s string) (expr, bool) {
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") < 2 || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || r == markOpen || r == markClose {
			return "", false
		}
	}
	delim := "EOT"
	for i := 2; ; i++ {
		clash := false
		for _, l := range strings.Split(s, "\n") {
			if strings.TrimSpace(l) == delim {
				clash = true
			}
		}
		if !clash {
			break
		}
		delim = fmt.Sprintf("EOT%d", i)
	}
	body := strings.NewReplacer("${", "$${", "%{", "%%{").Replace(s)
	return expr("<<" + delim + "\n" + body + delim), true
}

// script is a shell line or script as a string expression.
func script(s string) expr {
	if h, ok := heredoc(s); ok {
		return h
	}
	return expr(quoteLiteral(s))
}

// quoteLiteral quotes a string that holds no markers.
func quoteLiteral(s string) string {
	var c converter
	return string(c.quote(s))
}

func (c *converter) list(ss []string) expr {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(c.quote(s))
	}
	return expr("[" + strings.Join(parts, ", ") + "]")
}

// literalList is a list of strings that hold no markers: text docker
// build keeps as written (HEALTHCHECK CMD, ONBUILD).
func literalList(ss []string) expr {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = quoteLiteral(s)
	}
	return expr("[" + strings.Join(parts, ", ") + "]")
}

var identRe = lazyre.New(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// object renders a map in the order of keys, one entry a line; keys that
// are not identifiers are quoted.
func (c *converter) object(keys []string, vals []expr) expr {
	if len(keys) == 0 {
		return "{}"
	}
	var b strings.Builder
	b.WriteString("{\n")
	for i, k := range keys {
		name := k
		if !identRe.MatchString(k) {
			name = quoteLiteral(k)
		}
		fmt.Fprintf(&b, "%s = %s\n", name, vals[i])
	}
	b.WriteString("}")
	return expr(b.String())
}

// label makes a block name out of anything a Dockerfile calls a stage,
// image or file: an HCL identifier, so that stage.NAME and
// source.TYPE.NAME refer to it.
func label(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), "_-")
	if out == "" {
		return "x"
	}
	if c := out[0]; c >= '0' && c <= '9' || c == '-' {
		out = "_" + out
	}
	return out
}
