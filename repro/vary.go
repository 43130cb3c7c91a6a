package repro

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Variation is one condition a rebuild changes.
type Variation string

// The variations, described in kiln verify's help and
// docs/reproducibility.md.
const (
	Time     Variation = "time"     // starts at least a second after the previous build
	TZ       Variation = "tz"       // TZ=Pacific/Chatham
	Umask    Variation = "umask"    // umask 077
	Hostname Variation = "hostname" // another hostname, in a new UTS namespace
	Locale   Variation = "locale"   // LANG/LC_ALL=tr_TR.UTF-8
	Jobs     Variation = "jobs"     // -j 1, or -j NumCPU when the first build ran one at a time
	Store    Variation = "store"    // a store in a deeper, differently named folder
	Cwd      Variation = "cwd"      // a copy of the build file's folder, run from there
	Order    Variation = "order"    // independent steps start in a random order
	CPUs     Variation = "cpus"     // one CPU only (affinity, inherited by the steps)
	Kernel   Variation = "kernel"   // uname reports a 2.6 release (UNAME26)
)

// Variations returns every variation, in the order reports list them and
// isolation tries them.
func Variations() []Variation {
	return []Variation{Time, TZ, Umask, Hostname, Locale, Jobs, Store, Cwd, Order, CPUs, Kernel}
}

// ParseVary reads a comma-separated list of variations, "all" or "none"
// (or nothing), into the documented order without duplicates.
func ParseVary(s string) ([]Variation, error) {
	if s == "none" || s == "" {
		return nil, nil
	}
	all := Variations()
	var out []Variation
	for _, v := range strings.Split(s, ",") {
		v := Variation(strings.TrimSpace(v))
		if v == "all" {
			return all, nil
		}
		if !slices.Contains(all, v) {
			return nil, fmt.Errorf("unknown variation %q (want %s, all or none)", v, Join(all, ","))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	// Keep the documented order, so reports read the same however the
	// list was spelled.
	slices.SortFunc(out, func(a, b Variation) int { return slices.Index(all, a) - slices.Index(all, b) })
	return out, nil
}

// Join joins variations with sep, as strings.Join does strings.
func Join(vs []Variation, sep string) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = string(v)
	}
	return strings.Join(ss, sep)
}

// Feasible drops the variations this process cannot apply and says why
// for each: the CPU count when it may already run on one CPU only, the
// hostname when it is not root (a new UTS namespace needs root).
func Feasible(vary []Variation) (kept []Variation, dropped []string) {
	kept = slices.Clone(vary)
	if slices.Contains(kept, CPUs) && oneCPU() {
		dropped = append(dropped, "kiln may run on one CPU only: the CPU count is not varied")
		kept = slices.DeleteFunc(kept, func(v Variation) bool { return v == CPUs })
	}
	if slices.Contains(kept, Hostname) && os.Geteuid() != 0 {
		dropped = append(dropped, "not root: the hostname is not varied (it needs a new UTS namespace)")
		kept = slices.DeleteFunc(kept, func(v Variation) bool { return v == Hostname })
	}
	return kept, dropped
}

// oneCPU tells whether this process may already run on one CPU only.
func oneCPU() bool {
	var set unix.CPUSet
	return unix.SchedGetaffinity(0, &set) == nil && set.Count() <= 1
}
