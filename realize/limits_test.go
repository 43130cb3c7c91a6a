package realize

import (
	"testing"
	"time"
)

// TestLimitFormats: the values a limit failure shows and suggests read as
// build.hcl writes them.
func TestLimitFormats(t *testing.T) {
	for _, tc := range []struct {
		n           int64
		human, hcl2 string
	}{
		{64 << 20, "64 MiB", "128m"},
		{2 << 30, "2 GiB", "4g"},
		{18956156928, "17.7 GiB", "36g"},
		{512, "512 bytes", "1m"},
	} {
		if got := humanBytes(tc.n); got != tc.human {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.human)
		}
		if got := sizeSetting(2 * tc.n); got != tc.hcl2 {
			t.Errorf("sizeSetting(%d) = %q, want %q", 2*tc.n, got, tc.hcl2)
		}
	}
	for d, want := range map[time.Duration]string{
		4 * time.Second: "4s", 20 * time.Minute: "20m", 2 * time.Hour: "2h", 90 * time.Second: "1m30s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
