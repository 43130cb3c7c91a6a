package main

import (
	"strings"
	"testing"
)

// TestUsageErrorsExit2: a wrong command line exits 2, not 1 (a build or
// check failure), before anything is opened or built.
func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"nosuch"},
		{"store"},
		{"store", "ls", "--kind", "bogus"},
		{"build", "-j", "abc"},
		{"verify", "--rounds", "0"},
		{"verify", "--vary", "bogus"},
		{"show"},
	} {
		if code := run(append([]string{"--store", t.TempDir()}, args...)); code != 2 {
			t.Errorf("kiln %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}
