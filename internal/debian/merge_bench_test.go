package debian

import "testing"

// BenchmarkMerge: the cost of apt's view over several suites, against its
// baseline in the same run. Resolving gcc + libc6-dev on the bookworm
// index as it is (Single), and after merging it with itself as a second
// suite (Merged: the copy kiln lock makes for a source with several
// suites, plus the resolve). Needs the mirror the machine's apt
// configuration names (skipped without one).
func BenchmarkMerge(b *testing.B) {
	_, ix := hostRepoIndex(b)
	pkgs := []string{"gcc", "libc6-dev"}
	b.Run("Single", func(b *testing.B) {
		for range b.N {
			if _, err := ix.Resolve(pkgs, ResolveOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Merged", func(b *testing.B) {
		for range b.N {
			m := NewIndex("amd64")
			m.Merge(ix, 0)
			m.Merge(ix, 990)
			if _, err := m.Resolve(pkgs, ResolveOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
