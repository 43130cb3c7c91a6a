// Package termtext fits text to a terminal's rows: one line, cut to a
// number of columns, wide characters counted as two.
package termtext

import "unicode"

// Fit makes s one row of at most width columns: control characters (a
// step's description may hold a multi-line script, a log line may hold
// tabs, carriage returns or escape sequences) become spaces, runs of spaces
// one, and what does not fit is cut with an ellipsis. Wide characters count
// as two columns.
func Fit(s string, width int) string {
	if width < 1 {
		width = 1
	}
	var rs []rune
	cols := 0
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			if len(rs) > 0 && rs[len(rs)-1] == ' ' {
				continue
			}
			r = ' '
		}
		rs = append(rs, r)
		cols += Width(r)
	}
	if cols <= width {
		return string(rs)
	}
	cols = 0
	for i, r := range rs {
		if cols+Width(r) > width-1 {
			return string(rs[:i]) + "…"
		}
		cols += Width(r)
	}
	return string(rs)
}

// Width is the number of terminal columns r takes.
func Width(r rune) int {
	if isWide(r) {
		return 2
	}
	return 1
}

// isWide reports the East Asian wide and fullwidth ranges (CJK, Hangul,
// fullwidth forms, emoji) that terminals draw two columns wide.
func isWide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115f || r == 0x2329 || r == 0x232a ||
		(r >= 0x2e80 && r <= 0xa4cf && r != 0x303f) ||
		(r >= 0xac00 && r <= 0xd7a3) ||
		(r >= 0xf900 && r <= 0xfaff) ||
		(r >= 0xfe30 && r <= 0xfe4f) ||
		(r >= 0xff00 && r <= 0xff60) ||
		(r >= 0xffe0 && r <= 0xffe6) ||
		(r >= 0x1f300 && r <= 0x1f64f) ||
		(r >= 0x1f900 && r <= 0x1f9ff) ||
		(r >= 0x20000 && r <= 0x3fffd))
}
