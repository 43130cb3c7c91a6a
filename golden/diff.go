package golden

import (
	"fmt"
	"slices"
	"sort"
)

// Change is one difference between a recorded and a new golden file, by
// target: what moved, from Old to New ("" when absent).
type Change struct {
	Address string
	// What names the part that moved: "target", "index gzip",
	// "manifest linux/amd64 gzip", "manifest linux/amd64 gzip layer 2
	// diff_id", "sha256", "file usr/bin/x".
	What     string
	Old, New string
	// Note explains the change when it says something on its own, such as
	// that only compressed blobs moved.
	Note string
}

// String is the change as `kiln golden check` prints it.
func (c Change) String() string {
	old, new := c.Old, c.New
	if old == "" {
		old = "(none)"
	}
	if new == "" {
		new = "(none)"
	}
	s := fmt.Sprintf("%s: %s: %s -> %s", c.Address, c.What, old, new)
	if c.Note != "" {
		s += " (" + c.Note + ")"
	}
	return s
}

// Diff lists what differs from old to new for the given addresses (all of
// either file's targets when addrs is nil), sorted by address then in
// block order.
func Diff(old, new *File, addrs []string) []Change {
	if addrs == nil {
		set := map[string]bool{}
		for _, f := range []*File{old, new} {
			if f != nil {
				for a := range f.Targets {
					set[a] = true
				}
			}
		}
		for a := range set {
			addrs = append(addrs, a)
		}
	}
	addrs = slices.Clone(addrs)
	sort.Strings(addrs)
	get := func(f *File, a string) *Target {
		if f == nil {
			return nil
		}
		return f.Targets[a]
	}
	var out []Change
	for _, a := range addrs {
		o, n := get(old, a), get(new, a)
		switch {
		case o == nil && n == nil:
		case o == nil:
			out = append(out, Change{Address: a, What: "target", New: "recorded now", Note: "not in the golden file"})
		case n == nil:
			out = append(out, Change{Address: a, What: "target", Old: "recorded", Note: "no longer built"})
		default:
			out = append(out, diffTarget(a, o, n)...)
		}
	}
	return out
}

func diffTarget(a string, o, n *Target) []Change {
	var out []Change
	if o.SHA256 != n.SHA256 {
		out = append(out, Change{Address: a, What: "sha256", Old: o.SHA256, New: n.SHA256})
	}
	switch {
	case o.Files == nil && n.Files != nil:
		out = append(out, Change{Address: a, What: "files", New: fmt.Sprintf("%d file digest(s)", len(n.Files)), Note: "per-file digests now recorded"})
	case o.Files != nil && n.Files == nil:
		out = append(out, Change{Address: a, What: "files", Old: fmt.Sprintf("%d file digest(s)", len(o.Files)), Note: "per-file digests no longer recorded"})
	}
	if o.Files != nil && n.Files != nil {
		var names []string
		for k := range o.Files {
			names = append(names, k)
		}
		for k := range n.Files {
			if _, ok := o.Files[k]; !ok {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			if o.Files[k] != n.Files[k] {
				out = append(out, Change{Address: a, What: "file " + k, Old: o.Files[k], New: n.Files[k]})
			}
		}
	}
	oi, ni := map[string]string{}, map[string]string{}
	var keys []string
	for _, ix := range o.Indexes {
		oi[ix.Compression] = ix.Digest
		keys = append(keys, ix.Compression)
	}
	for _, ix := range n.Indexes {
		ni[ix.Compression] = ix.Digest
		if _, ok := oi[ix.Compression]; !ok {
			keys = append(keys, ix.Compression)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if oi[k] != ni[k] {
			out = append(out, Change{Address: a, What: "index " + k, Old: oi[k], New: ni[k]})
		}
	}
	om, nm := map[string]Manifest{}, map[string]Manifest{}
	keys = keys[:0]
	for _, m := range o.Manifests {
		om[m.key()] = m
		keys = append(keys, m.key())
	}
	for _, m := range n.Manifests {
		nm[m.key()] = m
		if _, ok := om[m.key()]; !ok {
			keys = append(keys, m.key())
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		om, oko := om[k]
		nm, okn := nm[k]
		what := "manifest " + k
		switch {
		case !oko:
			out = append(out, Change{Address: a, What: what, New: nm.Digest})
		case !okn:
			out = append(out, Change{Address: a, What: what, Old: om.Digest})
		default:
			out = append(out, diffManifest(a, what, om, nm)...)
		}
	}
	return out
}

func diffManifest(a, what string, o, n Manifest) []Change {
	var out []Change
	contentMoved := !slices.Equal(o.DiffIDs, n.DiffIDs)
	if o.Digest != n.Digest {
		c := Change{Address: a, What: what, Old: o.Digest, New: n.Digest}
		if !contentMoved && !slices.Equal(o.Blobs, n.Blobs) {
			c.Note = "layer contents unchanged: only their compression moved"
		}
		out = append(out, c)
	}
	if o.Config != n.Config {
		out = append(out, Change{Address: a, What: what + " config", Old: o.Config, New: n.Config})
	}
	for i := 0; i < max(len(o.DiffIDs), len(n.DiffIDs)); i++ {
		ov, nv := at(o.DiffIDs, i), at(n.DiffIDs, i)
		if ov != nv {
			out = append(out, Change{Address: a, What: fmt.Sprintf("%s layer %d diff_id", what, i), Old: ov, New: nv})
		}
	}
	for i := 0; i < max(len(o.Blobs), len(n.Blobs)); i++ {
		ov, nv := at(o.Blobs, i), at(n.Blobs, i)
		if ov != nv {
			out = append(out, Change{Address: a, What: fmt.Sprintf("%s layer %d blob", what, i), Old: ov, New: nv})
		}
	}
	return out
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}
