package repro

import (
	"slices"
	"strings"
	"testing"
)

func TestParseVary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []Variation
		err  string
	}{
		{in: "", want: nil},
		{in: "none", want: nil},
		{in: "all", want: Variations()},
		{in: "tz,all", want: Variations()},
		// The documented order and no duplicates, however spelled.
		{in: "order, jobs,cwd,jobs", want: []Variation{Jobs, Cwd, Order}},
		{in: "kernel,time", want: []Variation{Time, Kernel}},
		{in: "moon", err: `unknown variation "moon" (want time,tz,umask,hostname,locale,jobs,store,cwd,order,cpus,kernel, all or none)`},
		{in: "tz,", err: `unknown variation ""`},
	} {
		got, err := ParseVary(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseVary(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseVary(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestVariationsIsACopy: callers may change what they get without
// changing what the next caller gets.
func TestVariationsIsACopy(t *testing.T) {
	t.Parallel()
	a := Variations()
	a[0] = "moon"
	if Variations()[0] != Time {
		t.Fatal("Variations returns shared state")
	}
}

func TestFeasibleKeepsTheRest(t *testing.T) {
	t.Parallel()
	kept, dropped := Feasible([]Variation{TZ, Hostname, CPUs, Order})
	for _, v := range []Variation{TZ, Order} {
		if !slices.Contains(kept, v) {
			t.Errorf("Feasible dropped %s: %v", v, dropped)
		}
	}
	if len(kept)+len(dropped) != 4 {
		t.Errorf("Feasible: kept %v, dropped %v: every variation is either kept or dropped with a reason", kept, dropped)
	}
}

func TestApplyToSelfRefusesABadUmask(t *testing.T) {
	t.Parallel()
	// Parsing fails before anything is set on this process.
	for _, m := range []string{"8", "u=rwx", "1777"} {
		if err := (Rebuild{Umask: m}).ApplyToSelf(); err == nil || !strings.Contains(err.Error(), "octal") {
			t.Errorf("umask %q: %v, want an error asking for an octal mode", m, err)
		}
	}
}
