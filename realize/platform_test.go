package realize

import "testing"

// TestSamePlatform: a step runs on the machine its platform names, in any
// spelling kiln accepts for it; a variant only the step names is the
// kernel's business, another architecture is refused.
func TestSamePlatform(t *testing.T) {
	for _, tc := range []struct {
		step, host string
		ok         bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/x86_64", "linux/amd64", true},
		{"linux/amd64/v2", "linux/amd64", true},
		{"linux/aarch64", "linux/arm64", true},
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm/v6", "linux/arm", true},
		{"linux/arm64", "linux/amd64", false},
		{"linux/386", "linux/amd64", false},
		{"windows/amd64", "linux/amd64", false},
		{"linux", "linux/amd64", false},
	} {
		if got := samePlatform(tc.step, tc.host); got != tc.ok {
			t.Errorf("samePlatform(step %s, host %s) = %v, want %v", tc.step, tc.host, got, tc.ok)
		}
	}
}
