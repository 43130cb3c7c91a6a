package termtext

import (
	"testing"
	"unicode/utf8"
)

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven chars", 10, "eleven ch…"},
		{"a\n\tb\r\n c", 10, "a b c"},
		{"日本語です", 6, "日本…"},
		{"ünïcödé", 7, "ünïcödé"},
	} {
		got := Fit(tc.in, tc.width)
		if got != tc.want {
			t.Errorf("Fit(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Fit(%q, %d) cut a character: %q", tc.in, tc.width, got)
		}
	}
}
